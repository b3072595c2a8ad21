"""The identity-resolution backlog as the System page shows it: how many stored events wait to be
resolved, and how long the oldest has waited.

Both reads go through the partial index of unresolved events (`event_unresolved_time`), whose
size is the backlog, never the event table: the count stops at `BACKLOG_COUNT_CAP` ("more than"),
and the age is exact while the backlog is at most `BACKLOG_EXACT_AGE_MAX` events; beyond that it
is the age of the next event in line (the resolver takes events in event-time order).
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Min
from django.utils import timezone

from .models import Event

BACKLOG_COUNT_CAP = 100_000
BACKLOG_EXACT_AGE_MAX = 10_000


@dataclass(frozen=True)
class Backlog:
    waiting: int
    capped: bool  # more than `waiting` wait
    oldest_received_at: dt.datetime | None
    exact_age: bool

    @property
    def oldest_age(self) -> dt.timedelta | None:
        if self.oldest_received_at is None:
            return None
        return max(dt.timedelta(0), timezone.now() - self.oldest_received_at)


def resolution_backlog() -> Backlog:
    waiting_rows = Event.objects.filter(resolved_at__isnull=True).order_by()
    waiting = waiting_rows.values("id")[: BACKLOG_COUNT_CAP + 1].count()
    capped = waiting > BACKLOG_COUNT_CAP
    if waiting == 0:
        return Backlog(0, False, None, True)
    if waiting <= BACKLOG_EXACT_AGE_MAX:
        oldest = waiting_rows.aggregate(at=Min("received_at"))["at"]
        return Backlog(waiting, False, oldest, True)
    first = waiting_rows.order_by("timestamp", "id").values_list("received_at", flat=True).first()
    return Backlog(min(waiting, BACKLOG_COUNT_CAP), capped, first, False)
