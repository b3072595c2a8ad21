"""Values a client may send that once reached a 500: far cursors and dates, chunked bodies."""

import base64
import datetime as dt
import io
import json
from unittest import mock

import pytest
from django.test import Client

from cdp_site.params import keyset_cursor
from integrations.selectors import write_key_cache_clear
from profiles.models import Event, Profile
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # PostgreSQL refuses an offset of 16 hours or more: the cursor is read in UTC.
        (
            "2024-01-01T00:00:00+20:00_5",
            (dt.datetime(2023, 12, 31, 4, 0, tzinfo=dt.UTC), 5),
        ),
        ("2024-01-01T00:00:00-23:59_5", (dt.datetime(2024, 1, 1, 23, 59, tzinfo=dt.UTC), 5)),
        # Past the ends of the calendar once in UTC: no cursor.
        ("0001-01-01T00:00:00+20:00_5", None),
        ("9999-12-31T23:00:00-20:00_5", None),
    ],
)
def test_cursors_are_read_in_utc(text, expected):
    cursor = keyset_cursor(text)
    assert cursor == expected
    if cursor is not None:
        assert cursor[0].utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "before",
    [
        "2024-01-01T00:00:00+20:00_5",
        "2024-01-01T00:00:00-23:59_5",
        "0001-01-01T00:00:00+00:00_5",
        "9999-12-31T23:59:59.999999+00:00_5",
    ],
)
def test_a_timeline_cursor_far_from_utc_is_no_error(support_agent, client_for, before):
    profile = Profile.objects.create(traits={"name": "Jo"})
    response = client_for(support_agent).get(
        f"/customers/{profile.pk}/timeline/", {"before": before}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"before": "2024-01-01T00:00:00+20:00_5"},
        {"until": "9999-12-31"},
        {"since": "9999-12-31"},
        {"since": "0001-01-01", "until": "0001-01-01"},
    ],
)
def test_far_audit_log_filters_are_no_error(compliance_officer, client_for, params):
    assert client_for(compliance_officer).get("/compliance/audit/", params).status_code == 200


def test_the_audit_log_until_the_last_day_keeps_every_row(
    compliance_officer, support_agent, client_for
):
    from compliance.models import AuditEvent

    AuditEvent.objects.create(user=support_agent, username="sam", action="profile.view")
    response = client_for(compliance_officer).get("/compliance/audit/", {"until": "9999-12-31"})
    assert [row.username for row, _label in response.context["rows"]][-1:] == ["sam"]


# --- chunked tracking bodies -------------------------------------------------------------------


@pytest.fixture
def source():
    write_key_cache_clear()
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        yield SourceFactory(name="Web")
    write_key_cache_clear()


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _chunked_post(body: bytes, key: str, *, terminated: bool):
    """A POST as a WSGI server hands over a chunked body: no Content-Length; gunicorn has
    already decoded the chunks and says so with `wsgi.input_terminated`."""
    client = Client()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/batch",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_AUTHORIZATION": _basic(key),
        "wsgi.input": io.BytesIO(body),
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return client.request(**environ)


def test_a_chunked_batch_is_read_whole_where_the_server_decodes_chunks(source):
    body = json.dumps(
        {"batch": [{"type": "track", "event": "Chunked", "userId": "u1", "messageId": "c1"}]}
    ).encode()
    response = _chunked_post(body, source.write_key, terminated=True)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert list(Event.objects.values_list("message_id", flat=True)) == ["c1"]


def test_a_chunked_batch_the_server_cannot_decode_is_refused_with_411(source):
    body = json.dumps({"batch": [{"type": "track", "event": "X", "userId": "u1"}]}).encode()
    response = _chunked_post(body, source.write_key, terminated=False)
    assert response.status_code == 411
    assert response.json()["code"] == "length_required"
    assert "Content-Length" in response.json()["message"]
    assert not Event.objects.exists()


def test_a_chunked_body_over_the_limit_is_refused(source):
    from integrations.tracking.ingest import MAX_REQUEST_BYTES

    response = _chunked_post(b" " * (MAX_REQUEST_BYTES + 10), source.write_key, terminated=True)
    assert response.status_code == 413
