"""Event forwarding to Segment-compatible endpoints: a stand-in for the limits, and this product."""

import pytest

from integrations.connectors.base import TerminalError, TransientError
from integrations.connectors.registry import connector_class
from integrations.connectors.segment_forward import SegmentForwardDestination
from tests.integrations.destinations.records import batch, person


def _connector(server, write_key=None, **config):
    return SegmentForwardDestination(
        {"base_url": server.url, "timeout_seconds": 1, **config},
        {"write_key": write_key or server.write_key},
    )


def _track(n: int, event: str = "Order Completed", **extra) -> dict:
    return {
        "type": "track",
        "messageId": f"evt-{n}",
        "userId": f"user-{n % 10}",
        "event": event,
        "properties": {"n": n},
        "timestamp": "2026-11-01T10:00:00+00:00",
        **extra,
    }


def test_registered_with_its_form():
    cls = connector_class("segment_forward", kind="destination")
    assert cls is SegmentForwardDestination
    assert [f.name for f in cls.fields if f.kind == "secret"] == ["write_key"]


def test_messages_go_in_batches_under_500_kb(segment_server):
    padding = "x" * 900
    messages = [_track(n, note=padding) for n in range(1500)]
    assert _connector(segment_server).forward(messages).failures == []
    assert len(segment_server.messages) == 1500
    assert len(segment_server.requests) > 1
    assert segment_server.largest_request <= 475_000
    for request in segment_server.requests:
        assert request.headers["content-type"] == "application/json"


def test_receiver_fields_are_not_forwarded(segment_server):
    message = _track(1, sentAt="2026-11-01T10:00:05Z", receivedAt="2026-11-01T10:00:06Z")
    message["originalTimestamp"] = "2026-11-01T09:59:59Z"
    _connector(segment_server).forward([message])
    sent = segment_server.messages["evt-1"]
    assert "sentAt" not in sent
    assert "receivedAt" not in sent
    assert "originalTimestamp" not in sent
    assert sent["timestamp"] == "2026-11-01T10:00:00+00:00"
    assert "sentAt" not in segment_server.requests[0].json()


def test_filters_by_type_and_event_name(segment_server):
    messages = [
        _track(1, "Order Completed"),
        _track(2, "Page Scrolled"),
        {"type": "identify", "messageId": "id-1", "userId": "u", "traits": {}},
        {"type": "page", "messageId": "pg-1", "userId": "u", "name": "Pricing"},
        {"type": "group", "messageId": "gr-1", "userId": "u", "groupId": "g"},
    ]
    connector = _connector(
        segment_server, message_types="track, identify, page", event_names="Order Completed\n"
    )
    assert connector.forward(messages).failures == []
    assert set(segment_server.messages) == {"evt-1", "id-1"}


def test_unknown_message_types_are_refused_when_configured():
    with pytest.raises(TerminalError, match="Unknown message type"):
        SegmentForwardDestination({"base_url": "https://x", "message_types": "trak"}, {})


def test_oversized_and_unidentified_messages_fail_alone(segment_server):
    messages = [_track(0, blob="y" * 40_000), _track(1), {"type": "track", "event": "X"}]
    failures = _connector(segment_server).forward(messages).failures
    assert sorted((f.profile_id, f.transient) for f in failures) == [(0, False), (2, False)]
    assert "at most 32 KB" in next(f.reason for f in failures if f.profile_id == 0)
    assert set(segment_server.messages) == {"evt-1"}


def test_a_retried_batch_is_stored_once_by_message_id(segment_server):
    segment_server.fail_next("after_store:503")
    connector = _connector(segment_server)
    messages = [_track(n) for n in range(5)]
    with pytest.raises(TransientError):
        connector.forward(messages)
    connector.forward(messages)
    assert len(segment_server.messages) == 5
    assert segment_server.duplicates == 5


@pytest.mark.parametrize(
    ("mode", "retry_after"), [("429", 2), ("500", None), ("hang", None), ("reset", None)]
)
def test_transient_failures(segment_server, mode, retry_after):
    segment_server.fail_next(mode, retry_after=retry_after)
    with pytest.raises(TransientError) as error:
        _connector(segment_server).forward([_track(1)])
    assert error.value.retry_after == (float(retry_after) if retry_after else None)


def test_a_wrong_write_key_is_terminal(segment_server):
    with pytest.raises(TerminalError) as error:
        _connector(segment_server, write_key="wk-wrong").forward([_track(1)])
    assert error.value.message.startswith(
        "The receiving endpoint refused the write key (401): Invalid write key"
    )
    assert "wk-wrong" not in error.value.message
    check = _connector(segment_server, write_key="wk-wrong").check_connection()
    assert not check.ok


def test_audience_changes_go_as_audience_events(segment_server):
    connector = _connector(segment_server)
    result = connector.deliver(
        batch("b-1", entered=[person(1, "ada@example.com")], exited=[person(2, "b@example.com")])
    )
    assert result.failures == []
    events = sorted(segment_server.messages.values(), key=lambda m: m["event"])
    assert [(e["event"], e["userId"]) for e in events] == [
        ("Audience Entered", "user-1"),
        ("Audience Exited", "user-2"),
    ]


def test_check_connection_sends_an_empty_batch(segment_server):
    check = _connector(segment_server).check_connection()
    assert check.ok
    assert check.message == f"Connected: {segment_server.url[7:]} accepted the write key."
    assert segment_server.messages == {}
