"""Reads of the compliance app: the audit log, filtered and a page at a time."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from .models import AuditEvent

AUDIT_PAGE_SIZE = 50

# What each recorded action means, for people reading the log; an action not listed here is
# shown by its code.
ACTION_LABELS = {
    "profile.view": "Viewed a customer profile",
    "profile.search": "Searched customers",
    "profile.api_list": "Listed customers through the API",
    "profile.merge_undo": "Undid a merge",
    "consent.view": "Viewed consent choices",
    "segment.export": "Exported segment members",
    "segment.members_view": "Viewed segment members unmasked",
    "source_debugger_view": "Opened a source's live debugger",
    "source_debugger_poll": "Saw new messages in the live debugger",
    "source_debugger_message_view": "Opened a tracked message",
    "quarantine_message_view": "Opened a quarantined message",
    "audit_log.view": "Read the audit log",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    action: str = ""
    profile_id: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive
    # Keyset cursor: the (at, id) of the last row of the previous page.
    before: tuple[dt.datetime, int] | None = None


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight UTC of `day` (the log's times and the page's dates are UTC)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def audit_actions() -> list[tuple[str, str]]:
    """(code, label) of every action the log holds, for the filter's choices, by label."""
    codes = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
    return sorted(((code, action_label(code)) for code in codes), key=lambda pair: pair[1])


def audit_page(filters: AuditFilter) -> tuple[list[AuditEvent], tuple[dt.datetime, int] | None]:
    """One page of matching rows, newest first, and the cursor of the next page (or None).

    Keyset paging on (at, id), not OFFSET: the log only grows, and a page deep in it costs
    the same as the first.
    """
    rows: QuerySet[AuditEvent] = AuditEvent.objects.all()
    if filters.username:
        rows = rows.filter(username__iexact=filters.username)
    if filters.action:
        rows = rows.filter(action=filters.action)
    if filters.profile_id is not None:
        rows = rows.filter(profile_id=filters.profile_id)
    # As ranges on `at` itself, not on its date: the index on `at` then serves them.
    if filters.since is not None:
        rows = rows.filter(at__gte=_day_start(filters.since))
    if filters.until is not None:
        rows = rows.filter(at__lt=_day_start(filters.until + dt.timedelta(days=1)))
    if filters.before is not None:
        at, pk = filters.before
        rows = rows.filter(at__lt=at) | rows.filter(at=at, pk__lt=pk)
    page = list(rows.order_by("-at", "-pk")[: AUDIT_PAGE_SIZE + 1])
    if len(page) > AUDIT_PAGE_SIZE:
        page = page[:AUDIT_PAGE_SIZE]
        return page, (page[-1].at, page[-1].pk)
    return page, None
