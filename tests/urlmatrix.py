"""What every URL answers to each persona and the navigation each sees, written out, and the
walk of the URL configuration that makes sure no URL goes without its row.

The answers are written by hand, not read from the views' own role declarations, so that a wrong
role on a view fails the matrix. A new URL gets a row here (the path to request and one answer
per persona); `test_every_url_has_a_row_in_the_matrix` fails until it has one.
"""

import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve

# Django's admin answers by its own rules (staff status, model permissions) on URLs that follow
# the registered models: they are not listed one by one.
EXEMPT_NAMESPACES = ("admin",)

PERSONAS_WITH_ANONYMOUS = (
    "anonymous",
    "marketer",
    "support_agent",
    "integration_admin",
    "compliance_officer",
    "superuser",
)


@dataclass(frozen=True)
class Redirect:
    """A 302 to an address starting with `to`."""

    to: str


# Pages send an anonymous visitor to the login page; the APIs answer 401 (token or session).
# 405 is a POST-only action asked with GET by a persona the role check let through.
LOGIN = Redirect("/accounts/login/?next=")

# One row per URL: the path a test requests with GET, and what each persona gets: anonymous,
# marketer, support agent, integration admin, compliance officer, superuser. Placeholders are
# filled from a scene of one object each: a profile, a merge, a segment the marketer owns, a
# source with an event and a quarantined message, a task id.
# fmt: off
MATRIX: dict[str, tuple] = {
    # path                                           anon   mkt  sup  int  cmp  su
    # The project's pages.
    "/":                                            (LOGIN, 200, 200, 200, 200, 200),
    "/system/":                                     (LOGIN, 403, 403, 200, 403, 200),
    "/system/worker-check/":                        (LOGIN, 403, 403, 405, 403, 405),
    "/system/worker-check/{task}/":                 (LOGIN, 403, 403, 200, 403, 200),
    "/system/resolution/":                          (LOGIN, 403, 403, 200, 403, 200),
    # Identity rules: integration admins.
    "/identity-rules/":                             (LOGIN, 403, 403, 200, 403, 200),
    "/identity-rules/new/":                         (LOGIN, 403, 403, 200, 403, 200),
    "/identity-rules/kind/email/":                  (LOGIN, 403, 403, 200, 403, 200),
    "/api/identity-rules/":                         (  401, 403, 403, 200, 403, 200),
    "/api/identity-rules/email/":                   (  401, 403, 403, 200, 403, 200),
    "/accounts/login/":                             (  200, 200, 200, 200, 200, 200),
    # The home dashboard's panels, each for the roles it is meant for.
    "/dashboard/customers/":                        (LOGIN, 200, 200, 200, 200, 200),
    "/dashboard/segments/":                         (LOGIN, 200, 403, 403, 403, 200),
    "/dashboard/syncs/":                            (LOGIN, 403, 403, 200, 403, 200),
    "/dashboard/requests/":                         (LOGIN, 403, 403, 403, 200, 200),
    "/accounts/logout/":                            (LOGIN, 405, 405, 405, 405, 405),
    "/api/me/":                                     (  401, 200, 200, 200, 200, 200),
    "/api/schema/":                                 (  401, 200, 200, 200, 200, 200),
    "/api/docs/":                                   (  401, 200, 200, 200, 200, 200),
    # Customers: marketers (masked), support agents, compliance officers.
    "/customers/":                                  (LOGIN, 200, 200, 403, 200, 200),
    "/customers/{profile}/":                        (LOGIN, 200, 200, 403, 200, 200),
    "/customers/{profile}/timeline/":               (LOGIN, 200, 200, 403, 200, 200),
    "/customers/merges/{merge}/undo/":              (LOGIN, 403, 200, 403, 403, 200),
    # Computed traits: marketers define them.
    "/computed-traits/":                            (LOGIN, 200, 403, 403, 403, 200),
    "/computed-traits/new/":                        (LOGIN, 200, 403, 403, 403, 200),
    "/computed-traits/{computed_trait}/":           (LOGIN, 200, 403, 403, 403, 200),
    "/computed-traits/{computed_trait}/edit/":      (LOGIN, 200, 403, 403, 403, 200),
    "/computed-traits/{computed_trait}/delete/":    (LOGIN, 405, 403, 403, 403, 405),
    "/computed-traits/{computed_trait}/recompute/": (LOGIN, 405, 403, 403, 403, 405),
    "/customers/{profile}/scores/":                 (LOGIN, 200, 200, 403, 200, 200),
    # The data catalogue: compliance officers (and superusers) read it and set classes.
    "/data-catalogue/":                             (LOGIN, 403, 403, 403, 200, 200),
    "/data-catalogue/{data_field}/classify/":       (LOGIN, 403, 403, 403, 405, 405),
    "/api/profiles/":                               (  401, 200, 200, 403, 200, 200),
    "/api/profiles/{profile}/":                     (  401, 200, 200, 403, 200, 200),
    "/api/profiles/{profile}/events/":              (  401, 200, 200, 403, 200, 200),
    # Scores (aggregates): marketers.
    "/scores/rfm/":                                 (LOGIN, 200, 403, 403, 403, 200),
    "/scores/churn/":                               (LOGIN, 200, 403, 403, 403, 200),
    "/scores/rfm/recompute/":                       (LOGIN, 405, 403, 403, 403, 405),
    "/scores/churn/retrain/":                       (LOGIN, 405, 403, 403, 403, 405),
    # Journeys (aggregates, and segments made from them): marketers.
    "/journeys/funnel/":                            (LOGIN, 200, 403, 403, 403, 200),
    "/journeys/funnel/dropped/":                    (LOGIN, 405, 403, 403, 403, 405),
    "/journeys/paths/":                             (LOGIN, 200, 403, 403, 403, 200),
    "/segments/from-rfm-group/":                    (LOGIN, 405, 403, 403, 403, 405),
    "/api/merges/{merge}/undo/":                    (  401, 403, 405, 403, 403, 405),
    # Segments: marketers; a profile's segments also on the others' customer 360.
    "/segments/":                                   (LOGIN, 200, 403, 403, 403, 200),
    "/segments/new/":                               (LOGIN, 200, 403, 403, 403, 200),
    "/segments/preview/":                           (LOGIN, 405, 403, 403, 403, 405),
    # The builder's value suggestions: a field must be named (400 without one).
    "/segments/fields/values/":                     (LOGIN, 400, 403, 403, 403, 400),
    "/segments/{segment}/":                         (LOGIN, 200, 403, 403, 403, 200),
    "/segments/{segment}/edit/":                    (LOGIN, 200, 403, 403, 403, 200),
    "/segments/{segment}/duplicate/":                      (LOGIN, 405, 403, 403, 403, 405),
    "/segments/{segment}/delete/":                         (LOGIN, 405, 403, 403, 403, 405),
    "/segments/{segment}/refresh/":                        (LOGIN, 405, 403, 403, 403, 405),
    "/segments/{segment}/rename/":                         (LOGIN, 405, 403, 403, 403, 405),
    "/segments/{segment}/share/":                          (LOGIN, 405, 403, 403, 403, 405),
    "/segments/{segment}/unshare/":                        (LOGIN, 405, 403, 403, 403, 405),
    "/segments/{segment}/export.csv":               (LOGIN, 200, 403, 403, 403, 200),
    "/segments/profile/{profile}/":                 (LOGIN, 200, 200, 403, 200, 200),
    "/api/segments/":                               (  401, 200, 403, 403, 403, 200),
    "/api/segments/preview/":                       (  401, 405, 403, 403, 403, 405),
    "/api/segments/{segment}/":                     (  401, 200, 403, 403, 403, 200),
    "/api/segments/{segment}/members/":             (  401, 200, 403, 403, 403, 200),
    "/api/profiles/{profile}/segments/":            (  401, 200, 200, 403, 200, 200),
    # Sources: integration admins.
    "/sources/":                                    (LOGIN, 403, 403, 200, 403, 200),
    "/sources/new/":                                (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{source}/":                           (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{source}/enabled/":                   (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{source}/rotate-key/":                (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{source}/delete/":                    (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{source}/debugger/":                  (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{source}/debugger/messages/{event}/": (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{source}/quarantine/":                (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{source}/quarantine/{entry}/":        (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{source}/quarantine/replay/":         (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{source}/quarantine/discard/":        (LOGIN, 403, 403, 405, 403, 405),
    "/api/sources/{source}/rotate-key/":            (  401, 403, 403, 405, 403, 405),
    "/api/sources/{source}/quarantine/":            (  401, 403, 403, 200, 403, 200),
    "/api/sources/{source}/quarantine/replay/":     (  401, 403, 403, 405, 403, 405),
    "/api/sources/{source}/quarantine/{entry}/discard/": (401, 403, 403, 405, 403, 405),
    # Connector sources and their sync runs.
    "/sources/add/":                                (LOGIN, 403, 403, 200, 403, 200),
    "/sources/add/postgres_table/":                 (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{pull_source}/edit/":                 (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{pull_source}/test/":                 (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{pull_source}/sync/":                 (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{pull_source}/schedule/":             (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{pull_source}/runs/{run}/":           (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{pull_source}/runs/{run}/cancel/":    (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{pull_source}/runs/{run}/retry/":     (LOGIN, 403, 403, 405, 403, 405),
    "/api/sources/":                                (  401, 403, 403, 200, 403, 200),
    "/api/sources/{pull_source}/":                  (  401, 403, 403, 200, 403, 200),
    "/api/sources/{pull_source}/test/":             (  401, 403, 403, 405, 403, 405),
    "/api/sources/{pull_source}/sync/":             (  401, 403, 403, 405, 403, 405),
    "/api/sync-runs/":                              (  401, 403, 403, 200, 403, 200),
    "/api/sync-runs/{run}/":                        (  401, 403, 403, 200, 403, 200),
    "/api/sync-runs/{run}/cancel/":                 (  401, 403, 403, 405, 403, 405),
    "/api/sync-runs/{run}/retry/":                  (  401, 403, 403, 405, 403, 405),
    # CSV upload sources: upload, preview, mapping, import, the bad rows of a run (the scene's
    # run wrote no report: 404 to those who may open it).
    "/sources/{csv}/csv/":                          (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{csv}/csv/upload/":                   (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{csv}/csv/mapping/":                  (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{csv}/csv/import/":                   (LOGIN, 403, 403, 405, 403, 405),
    "/sources/{csv}/csv/runs/{csv_run}/bad-rows.csv": (LOGIN, 403, 403, 404, 403, 404),
    "/api/sources/{csv}/upload/":                   (  401, 403, 403, 200, 403, 200),
    "/api/sources/{csv}/mapping/":                  (  401, 403, 403, 200, 403, 200),
    "/api/sources/{csv}/import/":                   (  401, 403, 403, 405, 403, 405),
    # Incoming webhooks: the set-up page for integration admins; the receiver takes signed
    # POSTs from anyone.
    "/sources/{hook}/webhook/":                     (LOGIN, 403, 403, 200, 403, 200),
    "/sources/{hook}/webhook/secret/":              (LOGIN, 403, 403, 405, 403, 405),
    "/v1/webhooks/{hook}/token":                    (  405, 405, 405, 405, 405, 405),
    # Destinations: integration admins; marketers send the segments they see to those shared
    # with their team, and read the syncs of those segments.
    "/destinations/":                               (LOGIN, 403, 403, 200, 403, 200),
    "/destinations/new/":                           (LOGIN, 403, 403, 200, 403, 200),
    "/destinations/{destination}/":                 (LOGIN, 403, 403, 200, 403, 200),
    "/destinations/{destination}/pause/":           (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/resume/":          (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/share/":           (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/dead-letters/":    (LOGIN, 403, 403, 200, 403, 200),
    "/destinations/{destination}/dead-letters/replay/": (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/forwards/new/":    (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/forwards/{forward}/enabled/": (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/forwards/{forward}/run/": (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/forwards/{forward}/delete/": (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/runs/{audience_run}/": (LOGIN, 403, 403, 200, 403, 200),
    "/destinations/{destination}/runs/{audience_run}/cancel/": (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/{destination}/runs/{audience_run}/retry/": (LOGIN, 403, 403, 405, 403, 405),
    "/destinations/segment/{segment}/":             (LOGIN, 200, 403, 403, 403, 200),
    "/audience-syncs/{sync}/":                      (LOGIN, 200, 403, 200, 403, 200),
    "/audience-syncs/{sync}/run/":                  (LOGIN, 405, 403, 405, 403, 405),
    "/api/destinations/":                           (  401, 200, 403, 200, 403, 200),
    "/api/destinations/{destination}/":             (  401, 403, 403, 200, 403, 200),
    "/api/destinations/{destination}/dead-letters/": (  401, 403, 403, 200, 403, 200),
    "/api/destinations/{destination}/dead-letters/replay/": (401, 403, 403, 405, 403, 405),
    "/api/destinations/{destination}/forwards/":    (  401, 403, 403, 200, 403, 200),
    "/api/event-forwards/{forward}/":               (  401, 403, 403, 200, 403, 200),
    "/api/event-forwards/{forward}/run/":           (  401, 403, 403, 405, 403, 405),
    "/api/audience-syncs/":                         (  401, 200, 403, 200, 403, 200),
    "/api/audience-syncs/{sync}/":                  (  401, 200, 403, 200, 403, 200),
    "/api/audience-syncs/{sync}/run/":              (  401, 405, 403, 405, 403, 405),
    # The tracking API takes a source's write key, whoever is logged in, and POSTs only.
    "/v1/batch":                                    (  405, 405, 405, 405, 405, 405),
    "/v1/track":                                    (  405, 405, 405, 405, 405, 405),
    "/v1/t":                                        (  405, 405, 405, 405, 405, 405),
    # Compliance: the audit log for compliance officers; consent on the customer 360.
    "/compliance/audit/":                           (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/audit/export.csv":                 (LOGIN, 403, 403, 403, 200, 200),
    "/api/audit-log/":                              (  401, 403, 403, 403, 200, 200),
    "/api/audit-log/export.csv":                    (  401, 403, 403, 403, 200, 200),
    "/compliance/profile/{profile}/consent/":       (LOGIN, 200, 200, 403, 200, 200),
    "/compliance/profile/{profile}/consent/record/": (LOGIN, 403, 403, 403, 405, 405),
    "/api/compliance/profiles/{profile}/consent/":  (  401, 403, 403, 403, 405, 405),
    # Data subject requests: compliance officers only.
    "/compliance/requests/":                        (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/requests/new/":                    (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/requests/{dsr}/":                  (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/requests/{dsr}/verify/":           (LOGIN, 403, 403, 403, 405, 405),
    "/compliance/requests/{dsr}/run/":              (LOGIN, 403, 403, 403, 405, 405),
    "/compliance/requests/{dsr}/extend/":           (LOGIN, 403, 403, 403, 405, 405),
    "/compliance/requests/{dsr}/reject/":           (LOGIN, 403, 403, 403, 405, 405),
    "/compliance/requests/{dsr}/assign/":           (LOGIN, 403, 403, 403, 405, 405),
    "/compliance/requests/{dsr}/report/":           (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/requests/{dsr}/archive/{archive}/": (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/suppression/":                     (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/retention/":                       (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/consent/purposes/":                (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/consent/purposes/email_marketing/": (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/consent/overview/":                (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/processing-record/":               (LOGIN, 403, 403, 403, 200, 200),
    "/compliance/processing-record.md":             (LOGIN, 403, 403, 403, 200, 200),
    "/api/compliance/requests/":                    (  401, 403, 403, 403, 405, 405),
    "/api/compliance/requests/{dsr}/":              (  401, 403, 403, 403, 200, 200),
    "/api/compliance/requests/{dsr}/verify/":       (  401, 403, 403, 403, 405, 405),
    "/api/compliance/requests/{dsr}/run/":          (  401, 403, 403, 403, 405, 405),
    "/api/compliance/requests/{dsr}/extend/":       (  401, 403, 403, 403, 405, 405),
    "/api/compliance/requests/{dsr}/reject/":       (  401, 403, 403, 403, 405, 405),
    "/api/compliance/requests/{dsr}/archive/":      (  401, 403, 403, 403, 200, 200),
}
# fmt: on


# The main navigation each persona sees, in order.
EXPECTED_NAVIGATION = {
    "marketer": ["Home", "Customers", "Scores", "Segments", "Journeys", "Computed traits"],
    "support_agent": ["Home", "Customers"],
    "integration_admin": ["Home", "Sources", "Destinations", "System"],
    "compliance_officer": ["Home", "Customers", "Requests", "Data catalogue", "Audit log"],
    "superuser": [
        "Home",
        "Customers",
        "Scores",
        "Segments",
        "Journeys",
        "Computed traits",
        "Sources",
        "Destinations",
        "Requests",
        "Data catalogue",
        "Audit log",
        "System",
    ],
}


def expected_answer(path: str, persona: str):
    return MATRIX[path][PERSONAS_WITH_ANONYMOUS.index(persona)]


# Any value of the right shape, for resolving a row's path without a database.
SAMPLE_VALUES = {"task": str(uuid.UUID(int=1))}


def matrix_url_names() -> dict[str, str]:
    """The URL name each row's path resolves to (placeholders filled with sample values)."""
    return {path: resolve(path.format_map(_Sample())).view_name for path in MATRIX}


class _Sample(dict):
    def __missing__(self, key: str) -> str:
        return SAMPLE_VALUES.get(key, "1")


@dataclass(frozen=True)
class Route:
    route: str
    name: str
    view: object

    @property
    def allowed_roles(self):
        return getattr(self.view, "allowed_roles", None)


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(pattern.url_patterns, route, full_ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            yield Route(route=route, name=name, view=pattern.callback)


def all_routes() -> list[Route]:
    """Every URL pattern of the configuration, outside the exempt namespaces."""
    return [
        route
        for route in _walk(get_resolver().url_patterns)
        if route.name.split(":", 1)[0] not in EXEMPT_NAMESPACES
    ]
