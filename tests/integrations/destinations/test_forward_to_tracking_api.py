"""Forwarding into a second running instance of this product's own tracking API (/v1/batch)."""

from datetime import UTC, datetime

import pytest

from integrations.connectors.segment_forward import SegmentForwardDestination
from profiles.models import Event
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(count: int) -> list[dict]:
    return [
        {
            "type": "track",
            "messageId": f"fwd-{n}",
            "userId": f"user-{n % 7}",
            "event": "Order Completed" if n % 2 else "Page Scrolled",
            "properties": {"n": n, "revenue": 10.5},
            "context": {"library": {"name": "cdp-destinations"}},
            "timestamp": "2026-11-01T10:00:00+00:00",
            "receivedAt": "2026-11-01T10:00:03+00:00",
        }
        for n in range(count)
    ]


def test_forwarded_events_arrive_once_with_their_time(live_server):
    receiving = SourceFactory()
    connector = SegmentForwardDestination(
        {"base_url": live_server.url, "event_names": "Order Completed"},
        {"write_key": receiving.write_key},
    )
    assert connector.check_connection().ok

    messages = _messages(40)
    assert connector.forward(messages).failures == []
    assert connector.forward(messages).failures == []  # a retry stores nothing twice

    stored = Event.objects.filter(source_id=receiving.pk)
    assert sorted(stored.values_list("message_id", flat=True)) == sorted(
        f"fwd-{n}" for n in range(40) if n % 2
    )
    event = stored.get(message_id="fwd-1")
    assert event.event == "Order Completed"
    assert event.properties == {"n": 1, "revenue": 10.5}
    assert event.timestamp == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_messages_the_tracking_api_refuses_become_failures(live_server):
    receiving = SourceFactory()
    connector = SegmentForwardDestination(
        {"base_url": live_server.url}, {"write_key": receiving.write_key}
    )
    good, bad = _messages(2)
    del bad["userId"]  # neither userId nor anonymousId: refused by the tracking spec
    result = connector.forward([good, bad])
    assert [(f.profile_id, f.transient) for f in result.failures] == [(1, False)]
    assert "anonymousId" in result.failures[0].reason
    assert list(
        Event.objects.filter(source_id=receiving.pk).values_list("message_id", flat=True)
    ) == ["fwd-0"]


def test_an_unknown_write_key_is_refused_in_words(live_server):
    connector = SegmentForwardDestination({"base_url": live_server.url}, {"write_key": "nope"})
    check = connector.check_connection()
    assert not check.ok
    assert check.message == (
        "The receiving endpoint refused the write key (401): Unknown write key. "
        "Check the write key and its permissions."
    )
