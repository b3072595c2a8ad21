"""Pages and htmx fragments of the compliance app."""

import datetime as dt
from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cdp_site.roles import Role, role_required
from cdp_site.signals import personal_data_accessed
from profiles.models import Profile

from .consent import consent_state
from .selectors import AuditFilter, action_label, audit_actions, audit_page

MAX_ID = 2**63 - 1


@role_required(Role.MARKETER, Role.SUPPORT_AGENT, Role.COMPLIANCE_OFFICER)
@require_GET
def profile_consent(request, profile_id: int):
    """Fragment for the customer 360 page: consent in force per purpose, and its history."""
    if not Profile.objects.filter(pk=profile_id, merged_into__isnull=True).exists():
        raise Http404("No such profile.")
    state = consent_state(profile_id)
    personal_data_accessed.send(
        sender=Profile,
        user=request.user,
        profile_id=profile_id,
        action="consent.view",
        detail={"purposes": len(state)},
    )
    return render(
        request, "compliance/_profile_consent.html", {"profile_id": profile_id, "state": state}
    )


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _audit_filter(request) -> AuditFilter:
    """The filters as typed; anything that is not a valid value is left out."""
    profile = request.GET.get("profile", "").strip()
    before = None
    stamp, _, pk = request.GET.get("before", "").rpartition("_")
    if stamp and pk.isascii() and pk.isdigit() and int(pk) <= MAX_ID:
        try:
            at = dt.datetime.fromisoformat(stamp)
        except ValueError:
            at = None
        if at is not None and at.tzinfo is not None:
            before = (at, int(pk))
    return AuditFilter(
        # No stored name holds NUL, which PostgreSQL refuses in a query parameter.
        username=request.GET.get("user", "").replace("\x00", "").strip()[:150],
        action=request.GET.get("action", "").replace("\x00", "").strip()[:64],
        profile_id=int(profile)
        if profile.isascii() and profile.isdigit() and int(profile) <= MAX_ID
        else None,
        since=_date(request.GET.get("since", "").strip()),
        until=_date(request.GET.get("until", "").strip()),
        before=before,
    )


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def audit_log(request):
    """Who looked at or exported personal data, when and what: newest first, filterable."""
    filters = _audit_filter(request)
    rows, cursor = audit_page(filters)
    # Reading the log shows whose data others looked at: that is logged too.
    personal_data_accessed.send(
        sender=audit_log,
        user=request.user,
        profile_id=filters.profile_id,
        action="audit_log.view",
        detail={"filters": {k: v for k, v in request.GET.items() if v}, "rows": len(rows)},
    )
    next_url = ""
    if cursor is not None:
        params = {k: v for k, v in request.GET.items() if k != "before" and v}
        params["before"] = f"{cursor[0].isoformat()}_{cursor[1]}"
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
