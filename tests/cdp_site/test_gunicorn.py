"""The app under gunicorn with the shipped configuration: what its access log writes, and what
it reads of a chunked tracking request."""

import base64
import http.client
import json

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from profiles.models import Event
from tests.factories import SourceFactory
from tests.servers import GunicornServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the gunicorn tests run on PostgreSQL only")


def _request(port, method, path, body=b"", headers=None, *, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    if chunked:
        conn.putrequest(method, path)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(body), 7):
            part = body[start : start + 7]
            conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        conn.send(b"0\r\n\r\n")
    else:
        conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def test_the_access_log_writes_no_write_key_token_or_query(tmp_path, superuser):
    source = SourceFactory(name="Web")
    token = Token.objects.create(user=superuser).key
    basic = "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()
    with GunicornServer(tmp_path) as server:
        status, _ = _request(
            server.port,
            "POST",
            "/v1/track",
            json.dumps({"userId": "u1", "event": "Logged"}).encode(),
            {"Authorization": basic, "Content-Type": "application/json"},
        )
        assert status == 200
        status, _ = _request(
            server.port,
            "GET",
            "/api/profiles/?q=jane%40example.com",
            headers={"Authorization": f"Token {token}", "Referer": "/customers/?q=jane"},
        )
        assert status == 200
    log = server.log()
    access = [line for line in log.splitlines() if '"gunicorn.access"' in line]
    assert len(access) == 2, log
    assert '"POST /v1/track HTTP/1.1" 200' in json.loads(access[0])["message"]
    assert source.write_key not in log
    assert token not in log
    assert "jane" not in log


def test_a_chunked_batch_is_stored_whole_under_gunicorn(tmp_path):
    source = SourceFactory(name="Web")
    body = json.dumps(
        {
            "batch": [
                {"type": "track", "event": "Chunked", "userId": "u1", "messageId": f"c{n}"}
                for n in range(3)
            ]
        }
    ).encode()
    basic = "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()
    with GunicornServer(tmp_path) as server:
        status, data = _request(
            server.port,
            "POST",
            "/v1/batch",
            body,
            {"Authorization": basic, "Content-Type": "application/json"},
            chunked=True,
        )
    assert status == 200, data
    assert json.loads(data)["accepted"] == 3
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["c0", "c1", "c2"]
