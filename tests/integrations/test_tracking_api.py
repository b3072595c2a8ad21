"""The /v1/ endpoints over HTTP: auth, limits, gzip, partial batches and every bad input."""

import base64
import gzip
import json
from unittest import mock

import pytest

from integrations.models import QuarantinedMessage
from integrations.selectors import write_key_cache_clear
from profiles.models import Event
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_write_keys():
    write_key_cache_clear()
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        yield
    write_key_cache_clear()


@pytest.fixture
def source():
    return SourceFactory(name="Web")


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def post(client, path, body, *, key=None, content_type="application/json", **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = _basic(key)
    return client.generic("POST", path, data, content_type=content_type, **headers)


def _track(**extra):
    return {"type": "track", "event": "Signed Up", "userId": "u1", **extra}


def test_batch_with_basic_auth_stores_every_message(client, source):
    response = post(
        client,
        "/v1/batch",
        {"batch": [_track(messageId="a"), _track(messageId="b")], "sentAt": "2026-01-01T00:00:00Z"},
        key=source.write_key,
    )
    assert response.status_code == 200
    assert response.json() == {"success": True, "accepted": 2, "duplicates": 0, "rejected": []}
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["a", "b"]


def test_write_key_in_body_is_accepted(client, source):
    response = post(client, "/v1/batch", {"batch": [_track()], "writeKey": source.write_key})
    assert response.status_code == 200
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("path", "body", "field", "value"),
    [
        ("/v1/identify", {"userId": "u", "traits": {"a": 1}}, "traits", {"a": 1}),
        ("/v1/track", {"userId": "u", "event": "E"}, "event", "E"),
        ("/v1/page", {"anonymousId": "x", "name": "Home"}, "name", "Home"),
        ("/v1/screen/", {"anonymousId": "x", "name": "Cart"}, "name", "Cart"),
        ("/v1/group", {"userId": "u", "groupId": "g"}, "group_id", "g"),
        ("/v1/alias", {"userId": "u", "previousId": "p"}, "previous_id", "p"),
    ],
)
def test_single_calls_store_their_type(client, source, path, body, field, value):
    response = post(client, path, {**body, "writeKey": source.write_key})
    assert response.status_code == 200, response.content
    event = Event.objects.get()
    assert event.type == path.strip("/").split("/")[1]
    assert getattr(event, field) == value


def test_gzip_body_is_accepted(client, source):
    body = gzip.compress(json.dumps({"batch": [_track()]}).encode())
    response = post(client, "/v1/batch", body, key=source.write_key, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain;charset=UTF-8", "text/xml", ""],
)
def test_the_body_is_json_whatever_its_content_type(client, source, content_type):
    response = post(
        client,
        "/v1/batch",
        {"batch": [_track(messageId="typed-1")]},
        key=source.write_key,
        content_type=content_type,
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert list(Event.objects.values_list("message_id", "type")) == [("typed-1", "track")]


def test_partial_batch_stores_valid_and_lists_invalid(client, source):
    response = post(
        client,
        "/v1/batch",
        {"batch": [_track(), {"type": "track", "userId": "u"}, "junk", _track()]},
        key=source.write_key,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "missing_event"),
        (2, "invalid_message"),
    ]
    assert Event.objects.count() == 2
    assert QuarantinedMessage.objects.filter(source=source).count() == 2


def test_retry_of_the_same_batch_creates_no_duplicate(client, source):
    batch = {"batch": [_track(messageId="m1"), _track(messageId="m2")]}
    post(client, "/v1/batch", batch, key=source.write_key)
    response = post(client, "/v1/batch", batch, key=source.write_key)
    assert response.json()["duplicates"] == 2
    assert Event.objects.count() == 2


def test_invalid_single_call_is_400_and_quarantined(client, source):
    response = post(client, "/v1/track", {"userId": "u"}, key=source.write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "missing_event"
    assert QuarantinedMessage.objects.get().code == "missing_event"
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("auth", "body_key", "status", "code"),
    [
        (None, None, 401, "missing_write_key"),
        (None, "", 401, "missing_write_key"),
        (None, 123, 401, "missing_write_key"),
        (None, "nope", 401, "invalid_write_key"),
        ("Basic !!!notbase64", None, 401, "invalid_write_key"),
        ("Basic " + base64.b64encode(b"\xff\xfe:").decode(), None, 401, "invalid_write_key"),
        ("Basic " + base64.b64encode(b"wrong:").decode(), None, 401, "invalid_write_key"),
        ("Basic " + base64.b64encode(b"x" * 500 + b":").decode(), None, 401, "invalid_write_key"),
        ("Bearer sometoken", None, 401, "missing_write_key"),
    ],
)
def test_missing_or_unknown_write_key_is_401(client, source, auth, body_key, status, code):
    body = {"batch": [_track()]}
    if body_key is not None:
        body["writeKey"] = body_key
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = post(client, "/v1/batch", body, **headers)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert Event.objects.count() == 0


def test_a_connector_sources_write_key_takes_no_tracking_calls(client):
    connector_source = SourceFactory(kind="csv_upload")
    response = post(client, "/v1/batch", {"batch": [_track()]}, key=connector_source.write_key)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_write_key")
    assert Event.objects.count() == 0


def test_disabled_source_is_403(client):
    source = SourceFactory(enabled=False)
    response = post(client, "/v1/batch", {"batch": [_track()]}, key=source.write_key)
    assert (response.status_code, response.json()["code"]) == (403, "source_disabled")
    assert Event.objects.count() == 0


def _big_batch(messages: int, size: int = 10):
    return {"batch": [_track(properties={"p": "x" * size}) for _ in range(messages)]}


@pytest.mark.parametrize(
    ("path", "body", "kwargs", "status", "code"),
    [
        ("/v1/batch", b"{not json", {}, 400, "invalid_json"),
        ("/v1/batch", b" ", {}, 400, "invalid_json"),
        ("/v1/batch", b"[1, 2]", {}, 400, "invalid_json"),
        ("/v1/batch", b'{"batch": [], "x": NaN}', {}, 400, "invalid_json"),
        ("/v1/batch", b'{"batch": [], "x": Infinity}', {}, 400, "invalid_json"),
        ("/v1/batch", b'{"batch": [], "x": 1e400}', {}, 400, "invalid_json"),
        ("/v1/batch", b'{"batch": "\xff"}', {}, 400, "invalid_json"),
        ("/v1/batch", {"batch": {"a": 1}}, {}, 400, "invalid_batch"),
        ("/v1/batch", {"batch": None}, {}, 400, "invalid_batch"),
        ("/v1/batch", {}, {}, 400, "invalid_batch"),
        ("/v1/batch", _big_batch(2501), {}, 400, "too_many_messages"),
        ("/v1/batch", _big_batch(60, 10_000), {}, 413, "request_too_large"),
        (
            "/v1/track",
            {"userId": "u", "event": "E", "p": "x" * 40_000},
            {},
            400,
            "message_too_large",
        ),
        (
            "/v1/batch",
            b"\x1f\x8b garbage",
            {"HTTP_CONTENT_ENCODING": "gzip"},
            400,
            "invalid_encoding",
        ),
        (
            "/v1/batch",
            gzip.compress(b'{"batch": []}')[:-6],
            {"HTTP_CONTENT_ENCODING": "gzip"},
            400,
            "invalid_encoding",
        ),
        (
            "/v1/batch",
            gzip.compress(b'{"batch": []}') + b"trailing",
            {"HTTP_CONTENT_ENCODING": "gzip"},
            400,
            "invalid_encoding",
        ),
        ("/v1/batch", {"batch": []}, {"HTTP_CONTENT_ENCODING": "br"}, 400, "invalid_encoding"),
        (
            "/v1/batch",
            gzip.compress(b'{"batch": [], "pad": "' + b" " * 600_000 + b'"}'),
            {"HTTP_CONTENT_ENCODING": "gzip"},
            413,
            "request_too_large",
        ),
    ],
)
def test_bad_requests_get_their_documented_answer(client, source, path, body, kwargs, status, code):
    response = post(client, path, body, key=source.write_key, **kwargs)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert Event.objects.count() == 0


def test_get_is_405_and_options_answers_cors(client):
    assert client.get("/v1/batch").status_code == 405
    response = client.options("/v1/track")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response["Access-Control-Allow-Headers"]


GARBAGE = [None, True, 0, -1, 1.5, 10**30, "", "x" * 300, [], [1, "a"], {}, {"a": {"b": [None]}}]
FIELDS = [
    "type",
    "userId",
    "anonymousId",
    "event",
    "name",
    "groupId",
    "previousId",
    "traits",
    "properties",
    "context",
    "integrations",
    "timestamp",
    "sentAt",
    "messageId",
]


@pytest.mark.parametrize("field", FIELDS)
def test_garbage_in_any_field_never_breaks_the_api(client, source, field):
    batch = [_track(**{field: value}) for value in GARBAGE]
    response = post(
        client, "/v1/batch", {"batch": batch, "context": {"x": 1}}, key=source.write_key
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == len(GARBAGE)
    assert QuarantinedMessage.objects.count() == len(body["rejected"])
    for value in GARBAGE:
        single = post(client, "/v1/track", {**_track(), field: value, "writeKey": source.write_key})
        assert single.status_code in (200, 400, 401), single.content
        assert "code" in single.json() or single.json()["success"] is True


@pytest.mark.parametrize(
    "top",
    [{"context": "x"}, {"integrations": [1]}, {"sentAt": 5}, {"sentAt": "nope"}, {"context": None}],
)
def test_garbage_in_batch_fields_never_breaks_the_api(client, source, top):
    response = post(client, "/v1/batch", {"batch": [_track()], **top}, key=source.write_key)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] + len(body["rejected"]) == 1


def test_a_lone_surrogate_fails_its_own_message_only(client, source):
    body = b'{"batch": [{"type": "track", "event": "E", "userId": "u1", "messageId": "ok"}, '
    body += b'{"type": "track", "event": "E", "userId": "u1", "properties": {"s": "abc\\ud83d"}}]}'
    response = post(client, "/v1/batch", body, key=source.write_key)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["code"]) for r in response.json()["rejected"]] == [
        (1, "invalid_message")
    ]
    assert "\\ud83d" in QuarantinedMessage.objects.get().payload


def test_numbers_beyond_64_bits_are_kept_exactly(client, source):
    body = (
        b'{"batch": [{"type": "track", "event": "E", "userId": 123456789012345678901234, '
        b'"properties": {"order": 98765432109876543210987, "low": -9223372036854775809}}]}'
    )
    response = post(client, "/v1/batch", body, key=source.write_key)
    assert response.json()["accepted"] == 1
    event = Event.objects.get()
    assert event.user_id == "123456789012345678901234"
    assert event.properties == {"order": 98765432109876543210987, "low": -9223372036854775809}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/batch", {"batch": [_track(messageId="m1", properties={"plan": "pro"})]}),
        ("/v1/track", _track(messageId="m1", properties={"plan": "pro"})),
    ],
)
def test_a_utf8_byte_order_mark_is_ignored(client, source, path, body):
    data = b"\xef\xbb\xbf" + json.dumps(body).encode()
    response = post(client, path, data, key=source.write_key)
    assert response.status_code == 200, response.content
    event = Event.objects.get()
    stored = (event.source_id, event.message_id, event.type, event.event, event.user_id)
    assert stored == (source.pk, "m1", "track", "Signed Up", "u1")
    assert event.properties == {"plan": "pro"}
    assert not QuarantinedMessage.objects.exists()


@pytest.mark.parametrize("letter", ["i", "t", "p", "s", "g", "a"])
def test_the_browser_sdk_short_paths_are_the_calls(client, source, letter):
    kind = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}
    message = {"userId": "u1", "event": "E", "groupId": "g", "previousId": "p"}
    # analytics-next sends the write key in the body, as text/plain.
    body = json.dumps({**message, "writeKey": source.write_key}).encode()
    response = post(client, f"/v1/{letter}", body, content_type="text/plain")
    assert response.status_code == 200, response.content
    assert Event.objects.get().type == kind[letter]


def test_the_browser_sdk_batch_path(client, source):
    response = post(client, "/v1/b", {"batch": [_track()]}, key=source.write_key)
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    "auth",
    [
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"a\x00b:").decode()},
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"\xff\xfe:").decode()},
    ],
)
def test_odd_write_keys_in_basic_auth_are_401(client, source, auth):
    response = post(client, "/v1/batch", {"batch": [_track()]}, **auth)
    assert response.status_code == 401


@pytest.mark.parametrize("key", [r"\u0000", r"a\u0000b", r"\ud800"])  # JSON escapes
def test_odd_write_keys_in_the_body_are_401(client, source, key):
    body = b'{"batch": [], "writeKey": "' + key.encode() + b'"}'
    response = post(client, "/v1/batch", body)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_write_key")


def test_an_oversized_single_call_is_quarantined(client, source):
    response = post(
        client, "/v1/track", {"userId": "u", "event": "E", "p": "x" * 40_000}, key=source.write_key
    )
    assert response.status_code == 400
    assert QuarantinedMessage.objects.get().code == "message_too_large"


def test_a_single_call_is_measured_as_parsed_not_as_escaped(client, source):
    # 12,000 "é" are 72 KB escaped as \\u00e9 on the wire, 24 KB as UTF-8: within the limit.
    body = json.dumps({"userId": "u", "event": "E", "properties": {"t": "é" * 12_000}}).encode()
    assert len(body) > 32 * 1024
    response = post(client, "/v1/track", body, key=source.write_key)
    assert response.status_code == 200, response.content
