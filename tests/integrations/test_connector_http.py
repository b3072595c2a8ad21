"""The API connectors' HTTP client against a real local server: what each kind of answer becomes."""

import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from werkzeug import Response

from integrations.connectors.base import TerminalError, TransientError
from integrations.connectors.http import MALFORMED_LIMIT, HttpClient, retry_after_seconds

SECRET = "tok_very_secret_value_42"


@pytest.fixture
def client(httpserver):
    with HttpClient(
        httpserver.url_for("/"),
        service="Shop",
        credential="the access token",
        headers={"X-Token": SECRET},
        secrets=(SECRET,),
        timeout=0.5,
    ) as made:
        yield made


def test_a_json_answer_is_decoded_and_the_credential_header_sent(httpserver, client):
    httpserver.expect_request("/items", headers={"X-Token": SECRET}).respond_with_json(
        {"items": [1, 2]}, headers={"X-Extra": "yes"}
    )
    answer = client.get("/items", params={"a": "1"})
    assert answer.data == {"items": [1, 2]}
    assert answer.headers["X-Extra"] == "yes"
    assert httpserver.log[0][0].args["a"] == "1"


def test_a_json_body_is_posted(httpserver, client):
    httpserver.expect_request("/search", method="POST", json={"q": "x"}).respond_with_json({})
    assert client.post("/search", json={"q": "x"}).data == {}


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0.5", 0.5), ("", None), ("soon", None), ("-3", 0.0), ("99999", 3600.0)],
)
def test_retry_after_in_seconds(header, expected):
    assert retry_after_seconds(header) == expected


def test_retry_after_as_an_http_date():
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= retry_after_seconds(format_datetime(when, usegmt=True)) <= 30


def test_429_is_transient_with_the_servers_wait(httpserver, client):
    httpserver.expect_request("/items").respond_with_json(
        {"errors": "Exceeded 2 calls per second"}, status=429, headers={"Retry-After": "2.0"}
    )
    with pytest.raises(TransientError) as caught:
        client.get("/items")
    assert caught.value.retry_after == 2.0
    assert "429" in caught.value.message


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(httpserver, client, status):
    httpserver.expect_request("/items").respond_with_data("upstream broke", status=status)
    with pytest.raises(TransientError) as caught:
        client.get("/items")
    assert caught.value.retry_after is None
    assert f"({status})" in caught.value.message
    assert "upstream broke" in caught.value.message


def test_a_timeout_is_transient(httpserver, client):
    def slow(request):
        time.sleep(1.0)
        return Response("{}")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(TransientError) as caught:
        client.get("/slow")
    assert "did not answer" in caught.value.message


def test_a_refused_connection_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone = HttpClient(f"http://127.0.0.1:{port}", service="Shop", credential="the token")
    with gone, pytest.raises(TransientError) as caught:
        gone.get("/items")
    assert "Could not reach Shop" in caught.value.message


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_terminal_and_named_without_the_secret(httpserver, client, status):
    httpserver.expect_request("/items").respond_with_json(
        {"errors": f"Invalid API key or access token {SECRET}"}, status=status
    )
    with pytest.raises(TerminalError) as caught:
        client.get("/items")
    message = caught.value.message
    assert "the access token" in message
    assert f"({status})" in message
    assert "Invalid API key" in message
    assert SECRET not in message
    assert "[secret]" in message


def test_another_4xx_is_terminal_and_quotes_the_server_trimmed(httpserver, client):
    httpserver.expect_request("/items").respond_with_json(
        {"message": "Property values were not valid " + "x" * 1000, "category": "VALIDATION"},
        status=400,
    )
    with pytest.raises(TerminalError) as caught:
        client.get("/items")
    assert "(400)" in caught.value.message
    assert "Property values were not valid" in caught.value.message
    assert len(caught.value.message) < 450


def test_malformed_json_is_transient_then_terminal(httpserver, client):
    httpserver.expect_request("/items").respond_with_data(
        "<html>Bad gateway</html>", content_type="text/html"
    )
    for _ in range(MALFORMED_LIMIT - 1):
        with pytest.raises(TransientError) as caught:
            client.get("/items")
        assert "not JSON" in caught.value.message
    with pytest.raises(TerminalError) as caught:
        client.get("/items")
    assert "times in a row" in caught.value.message


def test_a_usable_answer_starts_the_count_of_malformed_ones_again(httpserver, client):
    httpserver.expect_ordered_request("/items").respond_with_data("{broken")
    httpserver.expect_ordered_request("/items").respond_with_data("{broken")
    httpserver.expect_ordered_request("/items").respond_with_json({"ok": True})
    httpserver.expect_ordered_request("/items").respond_with_data("{broken")
    for _ in range(2):
        with pytest.raises(TransientError):
            client.get("/items")
    client.get("/items")
    client.answer_used()
    with pytest.raises(TransientError):
        client.get("/items")


def test_the_secret_is_never_logged(httpserver, client, caplog):
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/items").respond_with_json({}, status=401)
    httpserver.expect_request("/ok").respond_with_json({})
    client.get("/ok")
    with pytest.raises(TerminalError):
        client.get("/items")
    assert caplog.records
    assert SECRET not in caplog.text
