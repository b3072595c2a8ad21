"""Pages and htmx fragments of the compliance app."""

from urllib.parse import urlencode

from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from cdp_site.audit import action_label
from cdp_site.errors import DomainError
from cdp_site.params import (
    iso_date,
    keyset_cursor,
    keyset_cursor_text,
    positive_id,
    storable_text,
)
from cdp_site.roles import PROFILE_READERS, Role, role_required, user_has_role

from .consent_manual import EVIDENCE_KINDS, consent_record_by_hand
from .selectors import (
    AuditFilter,
    audit_actions,
    audit_log_for_user,
    profile_consent_for_user,
    profile_is_restricted,
)


def _consent_fragment(request, profile_id: int, error: str = ""):
    state = profile_consent_for_user(user=request.user, profile_id=profile_id)
    return render(
        request,
        "compliance/_profile_consent.html",
        {
            "profile_id": profile_id,
            "state": state,
            # Restriction or objection (Art. 18, 21): shown wherever the person's consent is.
            "restricted": profile_is_restricted(profile_id),
            # Compliance officers record choices made outside the tracked channels.
            "may_record": user_has_role(request.user, [Role.COMPLIANCE_OFFICER]),
            "evidence_kinds": EVIDENCE_KINDS.items(),
            "error": error,
        },
    )


@role_required(*PROFILE_READERS)
@require_GET
def profile_consent(request, profile_id: int):
    """Fragment for the customer 360 page: consent in force per purpose, and its history."""
    return _consent_fragment(request, profile_id)


@role_required(Role.COMPLIANCE_OFFICER)
@require_POST
def profile_consent_record(request, profile_id: int):
    """Record a consent choice by hand; answers the fragment again, the error shown in place."""
    error = ""
    try:
        consent_record_by_hand(
            user=request.user,
            profile_id=profile_id,
            purpose_key=request.POST.get("purpose", ""),
            granted=request.POST.get("granted") == "yes",
            evidence=request.POST.get("evidence", ""),
            note=request.POST.get("note", ""),
        )
    except DomainError as problem:
        error = problem.message
    return _consent_fragment(request, profile_id, error)


def _text_filter(request, name: str, length: int) -> str:
    # A text no stored row can hold (NUL, broken Unicode) matches nothing: it is left out.
    text = request.GET.get(name, "").strip()[:length]
    return text if storable_text(text) else ""


def _audit_filter(request) -> AuditFilter:
    """The filters as typed; anything that is not a valid value is left out."""
    return AuditFilter(
        username=_text_filter(request, "user", 150),
        action=_text_filter(request, "action", 64),
        profile_id=positive_id(request.GET.get("profile", "")),
        since=iso_date(request.GET.get("since", "")),
        until=iso_date(request.GET.get("until", "")),
        before=keyset_cursor(request.GET.get("before", "")),
    )


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def audit_log(request):
    """Who looked at or exported personal data, when and what: newest first, filterable."""
    filters = _audit_filter(request)
    rows, cursor = audit_log_for_user(
        user=request.user,
        filters=filters,
        asked={k: v for k, v in request.GET.items() if v},
    )
    next_url = ""
    if cursor is not None:
        params = {k: v for k, v in request.GET.items() if k != "before" and v}
        params["before"] = keyset_cursor_text(cursor)
        next_url = "?" + urlencode(params)
    return render(
        request,
        "compliance/audit_log.html",
        {
            "rows": [(row, action_label(row.action)) for row in rows],
            "filters": filters,
            "actions": audit_actions(),
            "next_url": next_url,
            "filtered": any(v for k, v in request.GET.items() if k != "before"),
        },
    )
