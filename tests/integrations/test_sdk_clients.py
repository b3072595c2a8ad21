"""The official Segment and RudderStack Python SDKs, unchanged, against the live test server."""

from unittest import mock

import pytest
from rudderstack.analytics import request as rudder_request
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics import request as segment_request
from segment.analytics.client import Client as SegmentClient

from integrations.selectors import write_key_cache_clear
from integrations.tracking import views as tracking_views
from profiles.models import Event
from tests.factories import SourceFactory
from tests.integrations.sdk_calls import assert_every_call_stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def resolve_task():
    write_key_cache_clear()
    with mock.patch("profiles.tasks.events_resolve_task.delay") as delay:
        yield delay
    write_key_cache_clear()
    # The SDKs keep a module-wide HTTP session; close its idle connections before the live
    # server stops, so no server thread is left reading from a socket that goes away.
    segment_request._session.close()
    rudder_request._session.close()


def _send_every_call(client, prefix: str) -> None:
    client.identify("user-1", {"email": "ann@example.com"}, message_id=f"{prefix}-identify")
    client.track("user-1", "Order Completed", {"revenue": 39.95}, message_id=f"{prefix}-track")
    client.page("user-1", "Docs", "Install", {"path": "/install"}, message_id=f"{prefix}-page")
    client.screen("user-1", "App", "Cart", {"items": 2}, message_id=f"{prefix}-screen")
    client.group("user-1", "acme", {"plan": "pro"}, message_id=f"{prefix}-group")
    client.alias("anon-9", "user-1", message_id=f"{prefix}-alias")


def _assert_stored(source, prefix: str) -> None:
    events = assert_every_call_stored(source, prefix, library="analytics-python")
    for event in events.values():
        assert event.original_timestamp is not None
        assert event.received_at >= event.timestamp - (event.sent_at - event.original_timestamp)


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_sdk_sends_every_call(live_server, gzip, resolve_task):
    source = SourceFactory()
    client = SegmentClient(source.write_key, host=live_server.url, sync_mode=True, gzip=gzip)
    _send_every_call(client, "seg")
    _assert_stored(source, "seg")
    # One resolve task per request: the SDK in sync mode sends one request per call.
    assert resolve_task.call_count == 6


def test_rudderstack_sdk_sends_every_call_gzipped(live_server):
    source = SourceFactory()
    client = RudderClient(source.write_key, host=live_server.url, sync_mode=True)
    assert client.gzip is True
    _send_every_call(client, "rud")
    _assert_stored(source, "rud")
    assert Event.objects.get(source_id=source.pk, type="track").context["library"]["name"] == (
        "analytics-python"
    )


def test_sdk_batch_in_background_mode(live_server, resolve_task):
    source = SourceFactory()
    client = SegmentClient(source.write_key, host=live_server.url, upload_size=50, gzip=True)
    for n in range(120):
        client.track(f"user-{n % 7}", "Viewed", {"n": n})
    client.flush()
    assert Event.objects.filter(source_id=source.pk).count() == 120
    assert 3 <= resolve_task.call_count <= 120


def _fail_first_response_after_commit(real_ingest):
    calls = {"n": 0}

    def ingest(**kwargs):
        result = real_ingest(**kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            # The batch is committed but the answer is lost: the client must retry.
            raise ConnectionAbortedError("connection dropped after commit")
        return result

    return ingest, calls


@pytest.mark.parametrize("client_class", [SegmentClient, RudderClient])
def test_retry_after_a_forced_error_creates_no_duplicate(live_server, client_class):
    source = SourceFactory()
    ingest, calls = _fail_first_response_after_commit(tracking_views.tracking_messages_ingest)
    errors = []
    client = client_class(
        source.write_key,
        host=live_server.url,
        max_retries=3,
        upload_size=10,
        on_error=lambda error, batch: errors.append(error),
    )
    with mock.patch.object(tracking_views, "tracking_messages_ingest", ingest):
        for n in range(10):
            client.track("user-1", "Clicked", {"n": n}, message_id=f"retry-{n}")
        client.flush()
    assert errors == []
    assert calls["n"] >= 2
    assert Event.objects.filter(source_id=source.pk).count() == 10


def test_sdk_resending_the_same_messages_is_deduplicated(live_server):
    source = SourceFactory()
    for _ in range(2):
        client = SegmentClient(source.write_key, host=live_server.url, sync_mode=True)
        client.track("user-1", "Clicked", message_id="same-id")
    assert Event.objects.filter(source_id=source.pk).count() == 1


def test_sdk_with_a_wrong_key_gets_401(live_server):
    from segment.analytics.request import APIError

    client = SegmentClient("wrong-key", host=live_server.url, sync_mode=True)
    with pytest.raises(APIError) as raised:
        client.track("user-1", "Clicked")
    assert (raised.value.status, raised.value.code) == (401, "invalid_write_key")
    assert Event.objects.count() == 0
