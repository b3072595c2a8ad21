"""Roles: groups and permissions, the page guard, what every URL answers to each persona, and
the navigation."""

import datetime as dt
import uuid
from functools import cached_property

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from guardian.shortcuts import assign_perm

from cdp_site.navigation import nav_items_for_user
from cdp_site.roles import ALL_ROLES, ROLE_PERMISSIONS, Role, role_permissions_sync, user_roles
from integrations.models import (
    AudienceSync,
    Destination,
    EventForward,
    QuarantinedMessage,
    SyncRun,
)
from profiles.models import DataField, Profile
from segments.models import Segment
from tests.conftest import PERSONAS
from tests.factories import EventFactory, SourceFactory, UserFactory, merged_pair
from tests.urlmatrix import (
    EXPECTED_NAVIGATION,
    MATRIX,
    PERSONAS_WITH_ANONYMOUS,
    Redirect,
    all_routes,
    expected_answer,
    matrix_url_names,
)

# Paths that authenticate on their own terms rather than with a role guard: the login pages, the
# REST API (tokens; its views check roles as permissions) and the tracking API (write keys).
SELF_AUTHENTICATING = ("accounts/", "api/", "v1/")

# What each role's group holds, written out: a permission added to or dropped from a role fails
# here, and so does a listed permission whose model does not exist.
EXPECTED_PERMISSIONS = {
    "marketer": {
        "profiles.view_profile",
        "segments.view_segment",
        "segments.add_segment",
        "segments.change_segment",
        "segments.delete_segment",
        "segments.view_segmentmembership",
    },
    "support_agent": {
        "profiles.view_profile",
        "profiles.view_identity",
        "profiles.view_event",
        "profiles.view_profilemerge",
        "profiles.change_profilemerge",
        "profiles.view_personal_data",
        "segments.view_segmentmembership",
        "compliance.view_consentrecord",
    },
    "integration_admin": {
        "integrations.view_source",
        "integrations.add_source",
        "integrations.change_source",
        "integrations.delete_source",
        "integrations.view_quarantinedmessage",
        "integrations.change_quarantinedmessage",
        "integrations.view_destination",
        "integrations.add_destination",
        "integrations.change_destination",
        "integrations.delete_destination",
        "integrations.view_audiencesync",
        "integrations.change_audiencesync",
        "integrations.view_deadletter",
        "integrations.change_deadletter",
        "integrations.view_eventforward",
        "integrations.add_eventforward",
        "integrations.change_eventforward",
        "profiles.view_identityrule",
        "profiles.change_identityrule",
        "profiles.view_event",
    },
    "compliance_officer": {
        "profiles.view_profile",
        "profiles.view_personal_data",
        "compliance.view_consentrecord",
        "compliance.view_auditevent",
    },
}


@pytest.mark.django_db
def test_migration_creates_one_group_per_role():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in ALL_ROLES}


@pytest.mark.django_db
def test_groups_hold_exactly_the_listed_permissions():
    held = {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.filter(name__in=[role.value for role in ALL_ROLES])
    }
    assert held == EXPECTED_PERMISSIONS


@pytest.mark.django_db
def test_roles_list_only_permissions_that_exist():
    existing = {
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.values_list(
            "content_type__app_label", "codename"
        )
    }
    listed = {code for codes in ROLE_PERMISSIONS.values() for code in codes}
    assert listed - existing == set()


@pytest.mark.django_db
def test_permission_sync_is_idempotent():
    before = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    role_permissions_sync(Group, Permission)
    role_permissions_sync(Group, Permission)
    after = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    assert before == after


def test_user_roles_of_superuser_is_every_role(superuser):
    assert user_roles(superuser) == frozenset(ALL_ROLES)


def test_user_roles_of_persona(marketer):
    assert user_roles(marketer) == frozenset({Role.MARKETER})


def test_every_page_is_guarded_by_a_role():
    unguarded = [
        route.route
        for route in all_routes()
        if not route.route.startswith(SELF_AUTHENTICATING) and route.allowed_roles is None
    ]
    assert unguarded == []


def test_every_url_has_a_row_in_the_matrix():
    covered = set(matrix_url_names().values())
    missing = sorted(
        route.name or route.route for route in all_routes() if route.name not in covered
    )
    assert missing == [], "add a row to MATRIX in tests/urlmatrix.py"


def test_no_two_rows_of_the_matrix_are_the_same_url():
    names = list(matrix_url_names().values())
    assert sorted({name for name in names if names.count(name) > 1}) == []


class Scene:
    """One object of each kind a URL names, made when a row's path asks for it."""

    def __init__(self, marketer):
        self.marketer = marketer

    @cached_property
    def profile(self):
        return Profile.objects.create(traits={"email": "anna@example.com", "country": "DE"})

    @cached_property
    def data_field(self):
        return DataField.objects.create(
            kind="trait", path="plan", first_seen_at=timezone.now(), refreshed_at=timezone.now()
        )

    @cached_property
    def merge(self):
        return merged_pair(timezone.now() - dt.timedelta(days=3))

    @cached_property
    def segment(self):
        condition = {"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}
        return Segment.objects.create(
            name="Germany",
            definition={"match": "all", "conditions": [condition]},
            owner=self.marketer,
        )

    @cached_property
    def computed_trait(self):
        from profiles.models import ComputedTrait

        return ComputedTrait.objects.create(
            key="views", name="Views", kind="event_count", event="Product Viewed"
        )

    @cached_property
    def source(self):
        return SourceFactory(name="Web")

    @cached_property
    def pull_source(self):
        return SourceFactory(
            name="Shop DB",
            kind="postgres_table",
            config={"host": "127.0.0.1", "database": "shop", "user": "reader", "table": "orders"},
        )

    @cached_property
    def run(self):
        return SyncRun.objects.create(source=self.pull_source, status=SyncRun.Status.FAILED)

    @cached_property
    def csv(self):
        return SourceFactory(name="Customers file", kind="csv_upload")

    @cached_property
    def csv_run(self):
        return SyncRun.objects.create(source=self.csv, status=SyncRun.Status.SUCCEEDED)

    @cached_property
    def hook(self):
        return SourceFactory(name="Forms", kind="webhook")

    @cached_property
    def event(self):
        return EventFactory(source=self.source)

    @cached_property
    def entry(self):
        return QuarantinedMessage.objects.create(
            source=self.source,
            code="invalid_message",
            reason="The message has no type.",
            payload='{"event": "E"}',
            received_at=timezone.now(),
        )

    @cached_property
    def destination(self):
        # Shared with the marketers' team, so a marketer reads the sync below.
        destination = Destination.objects.create(name="Hooks", kind="webhook")
        assign_perm("integrations.use_destination", Group.objects.get(name="marketer"), destination)
        return destination

    @cached_property
    def sync(self):
        return AudienceSync.objects.create(
            segment=self.segment, destination=self.destination, consent_purpose="advertising"
        )

    @cached_property
    def forward(self):
        return EventForward.objects.create(destination=self.destination)

    @cached_property
    def audience_run(self):
        return SyncRun.objects.create(
            kind=SyncRun.Kind.AUDIENCE, audience_sync=self.sync, status=SyncRun.Status.FAILED
        )

    @cached_property
    def task(self):
        return uuid.uuid4()

    @cached_property
    def dsr(self):
        from compliance.models import DataSubjectRequest

        return DataSubjectRequest.objects.create(
            type="access",
            identifiers={"email": ["anna@example.com"]},
            received_on=timezone.localdate(),
            due_on=timezone.localdate() + dt.timedelta(days=30),
            archive_token="a" * 43,
            archive_expires_at=timezone.now() + dt.timedelta(days=1),
        )

    @cached_property
    def archive(self):
        return self.dsr.archive_token

    def url(self, path: str) -> str:
        scene = self

        class Values(dict):
            def __missing__(self, key):
                value = getattr(scene, key)
                return getattr(value, "pk", value)

        return path.format_map(Values())


def _matrix():
    for path in MATRIX:
        for persona in PERSONAS_WITH_ANONYMOUS:
            yield pytest.param(path, persona, id=f"{path}-{persona}")


@pytest.mark.parametrize(("path", "persona_name"), list(_matrix()))
def test_role_matrix(path, persona_name, request, client, marketer):
    if persona_name != "anonymous":
        client.force_login(request.getfixturevalue(persona_name))
    response = client.get(Scene(marketer).url(path))
    expected = expected_answer(path, persona_name)
    if isinstance(expected, Redirect):
        assert response.status_code == 302
        assert response["Location"].startswith(expected.to)
    else:
        assert response.status_code == expected
    if expected == 403 and not path.lstrip("/").startswith(SELF_AUTHENTICATING):
        assert b"This page is not part of your role" in response.content


@pytest.mark.parametrize("persona_name", PERSONAS)
def test_navigation_of_each_role(persona_name, request):
    user = request.getfixturevalue(persona_name)
    labels = [item.label for item in nav_items_for_user(user)]
    assert labels == EXPECTED_NAVIGATION[persona_name]


@pytest.mark.parametrize("persona_name", PERSONAS)
def test_navigation_lists_only_what_the_role_may_open(persona_name, request, client_for):
    user = request.getfixturevalue(persona_name)
    for item in nav_items_for_user(user):
        response = client_for(user).get(item.url)
        assert response.status_code == 200, item.url


def test_navigation_of_marketer_hides_system_page(marketer, client_for):
    html = client_for(marketer).get("/").content.decode()
    assert 'href="/system/"' not in html


def test_navigation_of_integration_admin_shows_system_page(integration_admin, client_for):
    html = client_for(integration_admin).get("/").content.decode()
    assert 'href="/system/"' in html


@pytest.mark.django_db
def test_user_without_role_is_told_so(client_for):
    response = client_for(UserFactory(username="nobody")).get("/")
    assert response.status_code == 403
