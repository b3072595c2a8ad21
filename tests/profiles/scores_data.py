"""Small builders of customers and their orders for the scores' tests."""

import datetime as dt
import itertools

from profiles.models import Event, Profile

_messages = itertools.count()


def orders(profile: Profile, times: list[dt.datetime], revenue=10, event="Order Completed"):
    """Events `event` for `profile` at `times`, each with `revenue` (omitted when None)."""
    Event.objects.bulk_create(
        [
            Event(
                source_id=1,
                message_id=f"m-{next(_messages)}",
                type="track",
                event=event,
                properties={} if revenue is None else {"revenue": revenue},
                timestamp=at,
                received_at=at,
                profile=profile,
            )
            for at in times
        ]
    )
