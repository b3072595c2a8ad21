"""Pages and htmx fragments of the compliance app."""

from urllib.parse import urlencode

from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cdp_site.audit import action_label
from cdp_site.errors import DomainError
from cdp_site.params import keyset_cursor_text
from cdp_site.roles import PROFILE_READERS, Role, role_required, user_has_role

from .audit_csv import audit_csv_lines
from .audit_detail import audit_detail_lines
from .audit_filters import FILTER_NAMES, audit_filter_parse
from .consent_manual import EVIDENCE_KINDS, consent_record_by_hand
from .selectors import (
    audit_actions,
    audit_export_for_user,
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


def _asked(request) -> dict:
    return {k: v for k, v in request.GET.items() if v and k in FILTER_NAMES}


def _with_detail_lines(row):
    row.detail_lines = audit_detail_lines(row.detail)
    return row


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def audit_log(request):
    """Who looked at, exported or changed what, and when: newest first, filterable. Filters
    that cannot be used are reported in place, and no row is read until they are fixed."""
    filters, errors = audit_filter_parse(request.GET)
    rows, cursor = [], None
    if not errors:
        rows, cursor = audit_log_for_user(user=request.user, filters=filters, asked=_asked(request))
    next_url = ""
    if cursor is not None:
        params = {k: v for k, v in _asked(request).items() if k != "before"}
        params["before"] = keyset_cursor_text(cursor)
        next_url = "?" + urlencode(params)
    export_params = {k: v for k, v in _asked(request).items() if k != "before"}
    return render(
        request,
        "compliance/audit_log.html",
        {
            "rows": [(_with_detail_lines(row), action_label(row.action)) for row in rows],
            "filters": filters,
            "raw": {name: request.GET.get(name, "") for name in FILTER_NAMES},
            "errors": errors,
            "actions": audit_actions(),
            "next_url": next_url,
            "export_url": "?" + urlencode(export_params) if export_params else "",
            "filtered": any(v for k, v in _asked(request).items() if k != "before"),
        },
    )


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def audit_log_export(request):
    """Every entry matching the filters as a CSV file (the export itself is recorded)."""
    filters, errors = audit_filter_parse(request.GET)
    if errors:
        return HttpResponseBadRequest(
            "The filters cannot be used: " + " ".join(errors.values()),
            content_type="text/plain; charset=utf-8",
        )
    rows = audit_export_for_user(user=request.user, filters=filters, asked=_asked(request))
    response = StreamingHttpResponse(audit_csv_lines(rows), content_type="text/csv")
    stamp = timezone.now().date().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
