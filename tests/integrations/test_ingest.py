"""The ingestion entry point: validation, clock skew, dedupe, quarantine and the resolve task."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from integrations.models import QuarantinedMessage
from integrations.tracking.ingest import MAX_MESSAGE_BYTES, tracking_messages_ingest
from profiles.models import Event
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

RECEIVED = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def _track(**extra):
    return {"type": "track", "event": "Signed Up", "userId": "u1", **extra}


@pytest.fixture
def resolve_task():
    with mock.patch("profiles.tasks.events_resolve_task.delay") as delay:
        yield delay


def test_valid_messages_are_stored_with_every_spec_field(resolve_task):
    source = SourceFactory()
    result = tracking_messages_ingest(
        source=source,
        messages=[
            {
                "type": "identify",
                "userId": 42,
                "anonymousId": " a-1 ",
                "traits": {"email": "Ann@Example.com"},
                "context": {"externalIds": [{"id": "c9", "type": "crm_id"}]},
                "messageId": "m-1",
            },
            {"type": "page", "anonymousId": "a-1", "name": "Home", "properties": {"path": "/"}},
            {"type": "screen", "anonymousId": "a-1", "name": "Cart"},
            {"type": "group", "userId": "42", "groupId": "g-7", "traits": {"plan": "pro"}},
            {"type": "alias", "previousId": "a-1", "userId": "42"},
            _track(properties={"revenue": 9.5}),
        ],
        received_at=RECEIVED,
    )
    assert result.accepted == 6
    assert result.duplicates == 0
    assert result.rejected == []
    identify = Event.objects.get(message_id="m-1")
    assert identify.source_id == source.pk
    assert identify.user_id == "42"
    assert identify.anonymous_id == "a-1"
    assert identify.traits == {"email": "Ann@Example.com"}
    assert identify.context["externalIds"] == [{"id": "c9", "type": "crm_id"}]
    assert identify.received_at == RECEIVED
    assert identify.timestamp == RECEIVED
    assert identify.profile_id is None
    assert Event.objects.get(type="group").group_id == "g-7"
    assert Event.objects.get(type="alias").previous_id == "a-1"
    assert Event.objects.get(type="page").name == "Home"
    assert Event.objects.get(type="track").properties == {"revenue": 9.5}
    assert len(Event.objects.get(type="screen").message_id) == 36


def test_clock_skew_is_corrected_as_segment_does(resolve_task):
    source = SourceFactory()
    # The client's clock runs 1 hour slow; the event happened 10 s before it was sent.
    tracking_messages_ingest(
        source=source,
        messages=[_track(timestamp="2026-05-01T10:59:50Z", messageId="m")],
        sent_at="2026-05-01T11:00:00+00:00",
        received_at=RECEIVED,
    )
    event = Event.objects.get()
    assert event.original_timestamp == datetime(2026, 5, 1, 10, 59, 50, tzinfo=UTC)
    assert event.sent_at == datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
    assert event.received_at == RECEIVED
    assert event.timestamp == RECEIVED - timedelta(seconds=10)


def test_timestamp_without_sent_at_is_kept_as_sent(resolve_task):
    tracking_messages_ingest(
        source=SourceFactory(),
        messages=[_track(timestamp="2026-04-01T08:00:00")],
        received_at=RECEIVED,
    )
    assert Event.objects.get().timestamp == datetime(2026, 4, 1, 8, tzinfo=UTC)


def test_batch_context_and_integrations_merge_into_each_message(resolve_task):
    tracking_messages_ingest(
        source=SourceFactory(),
        messages=[_track(context={"ip": "1.2.3.4"}, integrations={"All": False})],
        batch_context={"library": {"name": "x"}, "ip": "9.9.9.9"},
        batch_integrations={"Mixpanel": True},
    )
    event = Event.objects.get()
    assert event.context == {"library": {"name": "x"}, "ip": "1.2.3.4"}
    assert event.integrations == {"Mixpanel": True, "All": False}


def test_same_message_id_is_stored_once(resolve_task, django_capture_on_commit_callbacks):
    source = SourceFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = tracking_messages_ingest(
            source=source, messages=[_track(messageId="dup"), _track(messageId="dup")]
        )
    with django_capture_on_commit_callbacks(execute=True):
        again = tracking_messages_ingest(source=source, messages=[_track(messageId="dup")])
    assert (first.accepted, first.duplicates) == (1, 1)
    assert (again.accepted, again.duplicates) == (0, 1)
    assert Event.objects.count() == 1
    # One task for the request that stored something, none for the one that did not.
    assert resolve_task.call_count == 1


def test_same_message_id_from_another_source_is_another_event(resolve_task):
    tracking_messages_ingest(source=SourceFactory(), messages=[_track(messageId="m")])
    tracking_messages_ingest(source=SourceFactory(), messages=[_track(messageId="m")])
    assert Event.objects.count() == 2


def test_one_resolve_task_per_request_after_commit(
    resolve_task, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tracking_messages_ingest(source=SourceFactory(), messages=[_track(), _track(), _track()])
    assert resolve_task.call_count == 0
    assert len(callbacks) == 1
    callbacks[0]()
    assert resolve_task.call_count == 1


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not an object", "invalid_message"),
        (None, "invalid_message"),
        ({"userId": "u"}, "invalid_type"),
        ({"type": "purchase", "userId": "u"}, "invalid_type"),
        ({"type": "track", "event": "E"}, "no_user_anon_id"),
        ({"type": "track", "event": "E", "userId": "  "}, "no_user_anon_id"),
        ({"type": "track", "userId": "u"}, "missing_event"),
        ({"type": "track", "userId": "u", "event": ""}, "missing_event"),
        ({"type": "track", "userId": "u", "event": 5}, "invalid_event"),
        ({"type": "group", "userId": "u"}, "missing_group_id"),
        ({"type": "alias", "userId": "u"}, "missing_previous_id"),
        ({"type": "track", "userId": True, "event": "E"}, "invalid_user_id"),
        ({"type": "track", "userId": ["u"], "event": "E"}, "invalid_user_id"),
        ({"type": "track", "userId": "u" * 256, "event": "E"}, "invalid_user_id"),
        ({"type": "track", "anonymousId": {}, "event": "E"}, "invalid_anonymous_id"),
        (
            {"type": "track", "userId": "u", "event": "E", "messageId": "m" * 101},
            "invalid_message_id",
        ),
        ({"type": "track", "userId": "u", "event": "E", "messageId": []}, "invalid_message_id"),
        ({"type": "track", "userId": "u", "event": "E", "properties": []}, "invalid_properties"),
        ({"type": "identify", "userId": "u", "traits": "x"}, "invalid_traits"),
        ({"type": "identify", "userId": "u", "context": 3}, "invalid_context"),
        ({"type": "identify", "userId": "u", "integrations": [1]}, "invalid_integrations"),
        ({"type": "page", "userId": "u", "name": {"a": 1}}, "invalid_name"),
        ({"type": "identify", "userId": "u", "timestamp": "yesterday"}, "invalid_timestamp"),
        ({"type": "identify", "userId": "u", "timestamp": 1700000000}, "invalid_timestamp"),
        ({"type": "identify", "userId": "u", "sentAt": ["x"]}, "invalid_timestamp"),
        (
            {
                "type": "identify",
                "userId": "u",
                "timestamp": "0001-01-01T00:00:00Z",
                "sentAt": "9999-12-31T00:00:00Z",
            },
            "invalid_timestamp",
        ),
        ({"type": "identify", "userId": "u", "traits": {"a\x00": 1}}, "invalid_characters"),
        ({"type": "identify", "userId": "u\x00"}, "invalid_characters"),
        (
            {"type": "identify", "userId": "u", "context": {"externalIds": [{"id": "1"}]}},
            "invalid_external_ids",
        ),
        (
            {"type": "identify", "userId": "u", "context": {"externalIds": "crm:1"}},
            "invalid_external_ids",
        ),
        (
            {"type": "identify", "userId": "u", "traits": {str(i): i for i in range(301)}},
            "too_many_traits",
        ),
        (
            {
                "type": "track",
                "userId": "u",
                "event": "E",
                "properties": {"x": "y" * MAX_MESSAGE_BYTES},
            },
            "message_too_large",
        ),
    ],
)
def test_invalid_message_is_rejected_and_quarantined(message, code, resolve_task):
    source = SourceFactory()
    result = tracking_messages_ingest(source=source, messages=[_track(messageId="ok"), message])
    assert result.accepted == 1
    assert [r["index"] for r in result.rejected] == [1]
    assert result.rejected[0]["code"] == code
    assert result.rejected[0]["message"]
    entry = QuarantinedMessage.objects.get()
    assert (entry.source, entry.index, entry.code) == (source, 1, code)
    assert entry.status == QuarantinedMessage.Status.PENDING
    assert Event.objects.count() == 1


def test_backslash_u0000_text_is_not_a_nul_character(resolve_task):
    result = tracking_messages_ingest(
        source=SourceFactory(), messages=[_track(properties={"path": "C:\\u0000"})]
    )
    assert result.accepted == 1
    assert Event.objects.get().properties == {"path": "C:\\u0000"}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"sent_at": "not a date"}, "invalid_timestamp"),
        ({"batch_context": ["x"]}, "invalid_context"),
        ({"batch_integrations": "All"}, "invalid_integrations"),
    ],
)
def test_invalid_batch_fields_quarantine_every_message(kwargs, code, resolve_task):
    result = tracking_messages_ingest(
        source=SourceFactory(), messages=[_track(), _track()], **kwargs
    )
    assert result.accepted == 0
    assert [r["code"] for r in result.rejected] == [code, code]
    assert QuarantinedMessage.objects.count() == 2
    assert Event.objects.count() == 0
    resolve_task.assert_not_called()


def test_quarantine_keeps_the_raw_payload_and_batch_fields(resolve_task):
    tracking_messages_ingest(
        source=SourceFactory(),
        messages=[{"type": "track", "userId": "u"}],
        batch_context={"ip": "1.1.1.1"},
        sent_at="2026-05-01T11:00:00Z",
    )
    entry = QuarantinedMessage.objects.get()
    assert entry.payload == '{"type":"track","userId":"u"}'
    assert entry.batch_context == '{"ip":"1.1.1.1"}'
    assert entry.sent_at == "2026-05-01T11:00:00Z"


def test_identify_traits_sent_in_context_become_the_traits(resolve_task):
    tracking_messages_ingest(
        source=SourceFactory(),
        messages=[{"type": "identify", "userId": "u", "context": {"traits": {"plan": "pro"}}}],
    )
    assert Event.objects.get().traits == {"plan": "pro"}


def test_nul_character_in_batch_context_quarantines_the_batch(resolve_task):
    result = tracking_messages_ingest(
        source=SourceFactory(), messages=[_track()], batch_context={"ip": "1\x00"}
    )
    assert [r["code"] for r in result.rejected] == ["invalid_characters"]
    assert Event.objects.count() == 0


def test_page_category_is_kept_in_properties(resolve_task):
    tracking_messages_ingest(
        source=SourceFactory(),
        messages=[{"type": "page", "anonymousId": "a", "name": "Install", "category": "Docs"}],
    )
    assert Event.objects.get().properties == {"category": "Docs"}


@pytest.mark.parametrize(
    "timestamp",
    [
        "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:30:00-01:00",  # after year 9999 in UTC
        "2024-01-01T00:00:00-23:59",  # an offset PostgreSQL cannot keep
        "2024-01-01T00:00:00+16:00",
    ],
)
def test_timestamps_outside_what_can_be_stored_are_quarantined(timestamp, resolve_task):
    result = tracking_messages_ingest(
        source=SourceFactory(), messages=[_track(messageId="ok"), _track(timestamp=timestamp)]
    )
    assert result.accepted == 1
    assert [r["code"] for r in result.rejected] == ["invalid_timestamp"]


def test_a_batch_sent_at_with_an_offset_postgresql_cannot_keep_quarantines_the_batch(
    resolve_task,
):
    result = tracking_messages_ingest(
        source=SourceFactory(), messages=[_track()], sent_at="2024-01-01T00:00:00+16:00"
    )
    assert [r["code"] for r in result.rejected] == ["invalid_timestamp"]


def test_timestamps_with_an_offset_are_stored_in_utc(resolve_task):
    tracking_messages_ingest(
        source=SourceFactory(), messages=[_track(timestamp="2026-05-01T14:00:00+02:00")]
    )
    assert Event.objects.get().original_timestamp == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("sent_at", ["\x00", "a\x00b", "\ud800"])
def test_sent_at_with_odd_characters_is_quarantined_readably(sent_at, resolve_task):
    for kwargs in ({"sent_at": sent_at}, {"messages": [_track(sentAt=sent_at)]}):
        kwargs.setdefault("messages", [_track()])
        result = tracking_messages_ingest(source=SourceFactory(), **kwargs)
        assert len(result.rejected) == 1
        assert result.rejected[0]["code"] in (
            "invalid_timestamp",
            "invalid_characters",
            "invalid_message",
        )
    assert QuarantinedMessage.objects.count() == 2
    assert QuarantinedMessage.objects.filter(sent_at="").count() == 1


@pytest.mark.parametrize("message_id", [" ", "\t", "   "])
def test_blank_message_ids_are_replaced_not_collided(message_id, resolve_task):
    source = SourceFactory()
    first = tracking_messages_ingest(source=source, messages=[_track(messageId=message_id)])
    second = tracking_messages_ingest(source=source, messages=[_track(messageId=message_id)])
    assert (first.accepted, second.accepted) == (1, 1)
    assert all(len(m) == 36 for m in Event.objects.values_list("message_id", flat=True))


def test_the_batch_context_counts_towards_each_message_size(resolve_task):
    result = tracking_messages_ingest(
        source=SourceFactory(),
        messages=[_track(), _track()],
        batch_context={"padding": "x" * MAX_MESSAGE_BYTES},
    )
    assert result.accepted == 0
    assert [r["code"] for r in result.rejected] == ["message_too_large"] * 2
    assert "batch's context" in result.rejected[0]["message"]
    assert Event.objects.count() == 0


def test_a_message_nested_deeper_than_orjson_writes_is_stored(resolve_task):
    nested: dict = {}
    for _ in range(300):
        nested = {"n": nested}
    result = tracking_messages_ingest(source=SourceFactory(), messages=[_track(properties=nested)])
    assert result.accepted == 1
