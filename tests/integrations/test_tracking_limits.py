"""The tracking API's rate limits: per source, and for addresses that send unknown write keys,
answered 429 with `Retry-After`; generous by default, configurable."""

import base64
import json
import re
import time
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client

from cdp_site.throttles import rate_parse
from integrations.selectors import write_key_cache_clear
from profiles.models import Event
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()
    write_key_cache_clear()
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        yield
    cache.clear()
    write_key_cache_clear()


def _track(client, key, n=0, address="203.0.113.5"):
    return client.post(
        "/v1/track",
        json.dumps({"userId": "u1", "event": "Clicked", "messageId": f"m{n}"}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        REMOTE_ADDR=address,
    )


def test_defaults_are_generous(settings):
    assert rate_parse(settings.CDP_TRACKING_RATE_PER_SOURCE) == (1000, 1)
    assert rate_parse(settings.CDP_TRACKING_BAD_KEYS_PER_ADDRESS) == (100, 60)


def test_a_source_over_its_rate_gets_429_with_retry_after(settings, client):
    settings.CDP_TRACKING_RATE_PER_SOURCE = "5/min"
    busy, quiet = SourceFactory(name="Busy"), SourceFactory(name="Quiet")
    answers = [_track(client, busy.write_key, n) for n in range(8)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert "5 requests per minute" in refused.json()["message"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Access-Control-Allow-Origin"] == "*"
    # Nothing of the refused requests was stored; another source is not slowed.
    assert Event.objects.filter(source_id=busy.pk).count() == 5
    assert _track(client, quiet.write_key).status_code == 200


def test_wrong_write_keys_from_one_address_are_slowed(settings, client):
    settings.CDP_TRACKING_BAD_KEYS_PER_ADDRESS = "100/min"
    source = SourceFactory(name="Web")
    answers = [_track(client, f"guess-{n}") for n in range(500)]
    statuses = [a.status_code for a in answers]
    assert statuses[:100] == [401] * 100
    assert statuses[100:] == [429] * 400
    assert answers[-1].json()["code"] == "too_many_invalid_keys"
    assert int(answers[-1]["Retry-After"]) >= 1
    # Even the right key waits from that address; another address is not held back.
    assert _track(client, source.write_key).status_code == 429
    assert _track(client, source.write_key, address="198.51.100.7").status_code == 200


def test_limits_can_be_turned_off(settings, client):
    settings.CDP_TRACKING_RATE_PER_SOURCE = ""
    settings.CDP_TRACKING_BAD_KEYS_PER_ADDRESS = "0"
    source = SourceFactory(name="Web")
    assert {_track(client, source.write_key, n).status_code for n in range(20)} == {200}
    assert {_track(client, "wrong").status_code for _ in range(20)} == {401}


def test_a_bad_rate_setting_says_how_to_write_it():
    with pytest.raises(ValueError, match=re.escape("<requests>/<s|min|hour|day>")):
        rate_parse("lots")


def test_the_segment_python_sdk_waits_out_a_429_and_sends_again(live_server, settings):
    """The official SDK honours `Retry-After`: the batch refused once is stored after it."""
    from segment.analytics import Client as SegmentClient

    from integrations.tracking import views

    settings.CDP_TRACKING_RATE_PER_SOURCE = "1/s"
    source = SourceFactory(name="SDK")
    refused = []
    limit = views.source_rate_exceeded

    def counting(source_id):
        try:
            limit(source_id)
        except views.TrackingRequestError as error:
            refused.append(error.retry_after)
            raise

    time.sleep(1 - time.time() % 1 + 0.02)  # the start of a second: both requests fall in it
    _track(Client(), source.write_key, 99, address="127.0.0.1")  # uses this second's request
    sdk = SegmentClient(write_key=source.write_key, host=live_server.url, upload_interval=0.001)
    with mock.patch.object(views, "source_rate_exceeded", counting):
        sdk.track(user_id="u1", event="After the pause", message_id="after")
        sdk.flush()
    sdk.shutdown()
    assert refused == [1]
    assert Event.objects.filter(source_id=source.pk, message_id="after").count() == 1
