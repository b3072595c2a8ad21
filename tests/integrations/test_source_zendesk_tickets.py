"""Help-desk tickets against a local server speaking Zendesk's cursor-based incremental export,
through the runner to stored events: cursor paging, incremental runs, solves, retries, refusals,
a killed worker."""

import base64
import logging

import pytest

from integrations.connectors.zendesk_tickets import ZendeskTickets
from integrations.models import SyncRun
from profiles.models import Event
from tests.integrations.http_sources import run, run_killed_then_resumed, source_create, stored
from tests.integrations.protocol_servers.zendesk import EMAIL, TOKEN, ZendeskServer


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.CDP_SYNC_RETRY_BASE_SECONDS = 0.01
    settings.CDP_SYNC_RETRY_MAX_SECONDS = 0.05
    settings.CDP_SYNC_RETRY_ATTEMPTS = 4


@pytest.fixture
def desk():
    server = ZendeskServer(page_size=4, threaded=True)
    for user in range(1, 4):
        server.add_user(user, f"requester{user}@example.com", f"Requester {user}")
    for ticket in range(1, 11):
        server.put_ticket(100 + ticket, requester_id=ticket % 3 + 1)
    server.put_ticket(103, requester_id=1, status="solved")
    server.start()
    yield server
    server.stop()


def _source(desk, name: str = "Help desk", token: str = TOKEN, **values):
    return source_create(
        "zendesk_tickets", name=name, base_url=desk.base_url, email=EMAIL, api_token=token, **values
    )


def _events(source, name: str) -> int:
    return Event.objects.filter(source_id=source.pk, event=name).count()


def test_the_connection_check_says_who_is_connected(desk):
    connector = ZendeskTickets({"base_url": desk.base_url, "email": EMAIL}, {"api_token": TOKEN})
    assert connector.check_connection().message == f"Connected as {EMAIL} (admin)."
    wrong = ZendeskTickets({"base_url": desk.base_url, "email": EMAIL}, {"api_token": "nope"})
    assert not wrong.check_connection().ok


def test_the_connection_check_refuses_an_agent_who_cannot_export(desk):
    desk.role = "agent"
    check = ZendeskTickets(
        {"base_url": desk.base_url, "email": EMAIL}, {"api_token": TOKEN}
    ).check_connection()
    assert not check.ok
    assert "needs an admin" in check.message


@pytest.mark.django_db
def test_a_run_follows_the_cursor_to_the_end_of_the_stream(desk):
    source = _source(desk)
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    exports = [r for r in desk.requests if "incremental" in r.path]
    assert exports[0].args == {"start_time": "0", "include": "users,metric_sets"}
    assert [set(r.args) for r in exports[1:]] == [{"cursor", "include"}] * 2
    expected = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    assert {r.headers["Authorization"] for r in exports} == {expected}
    assert _events(source, "Ticket Created") == 10
    assert _events(source, "Ticket Solved") == 1
    assert Event.objects.filter(source_id=source.pk, type="identify").count() == 3

    solved = Event.objects.get(source_id=source.pk, event="Ticket Solved")
    assert solved.user_id == "1"
    assert solved.context["traits"] == {"email": "requester1@example.com"}
    assert solved.properties["ticket_id"] == "103"
    assert solved.properties["status"] == "solved"
    created = Event.objects.get(
        source_id=source.pk, event="Ticket Created", properties__ticket_id="101"
    )
    assert created.user_id == "2"
    assert "status" not in created.properties
    assert created.properties["channel"] == "email"
    requester = Event.objects.get(source_id=source.pk, type="identify", user_id="2")
    assert requester.traits == {
        "email": "requester2@example.com",
        "name": "Requester 2",
        "zendesk_user_id": "2",
    }


@pytest.mark.django_db
def test_the_next_run_starts_from_the_saved_cursor_and_stores_only_new_events(desk):
    source = _source(desk)
    run(source)
    source.refresh_from_db()
    cursor = source.checkpoint["cursor"]
    desk.put_ticket(111, requester_id=2)
    desk.put_ticket(105, requester_id=3, status="solved")
    desk.requests.clear()
    second = run(source)
    assert desk.requests[0].args["cursor"] == cursor
    assert "start_time" not in desk.requests[0].args
    assert second.progress_done == 2
    # Ticket 111 created, ticket 105 solved; 105's creation and both requesters unchanged.
    assert (second.records_stored, second.records_unchanged) == (2, 3)

    # Closing a solved ticket is not a second solve.
    desk.put_ticket(105, requester_id=3, status="closed")
    third = run(source)
    assert (third.records_stored, third.records_unchanged) == (0, 3)
    assert _events(source, "Ticket Solved") == 2


@pytest.mark.django_db
def test_two_runs_of_the_same_tickets_store_them_once(desk):
    source = _source(desk)
    first = run(source)
    source.checkpoint = {}
    source.save()
    again = run(source)
    assert again.records_read == first.records_read
    assert (again.records_stored, again.records_unchanged) == (0, first.records_read)


@pytest.mark.django_db
def test_throttling_and_server_errors_are_retried(desk):
    source = _source(desk)
    desk.fail(1, 429, {"error": "TooManyRequests"}, headers={"Retry-After": "0"})
    desk.fail(2, 500, {"error": "InternalError"})
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert result.retries == 3
    assert _events(source, "Ticket Created") == 10


@pytest.mark.django_db
def test_a_malformed_export_page_is_retried_then_fails_the_run(desk):
    source = _source(desk)
    desk.fail(1, 200, {"tickets": "not a list"})
    assert run(source).status == SyncRun.Status.SUCCEEDED
    other = _source(desk, name="Other")
    desk.fail(3, 200, {"tickets": []})
    failed = run(other)
    assert failed.status == SyncRun.Status.FAILED
    assert "without tickets and end_of_stream (3 times in a row)" in failed.message


@pytest.mark.django_db
def test_refused_credentials_fail_the_run_naming_them(desk):
    result = run(_source(desk, token="zd_revoked_token"))
    assert result.status == SyncRun.Status.FAILED
    assert result.retries == 0
    assert "Zendesk refused the agent e-mail and API token (401): Couldn't authenticate you" in (
        result.message
    )
    assert "zd_revoked_token" not in result.message


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_resumes_from_its_cursor_and_stores_what_a_clean_run_does(desk):
    clean = _source(desk, name="Clean")
    assert run(clean).status == SyncRun.Status.SUCCEEDED
    source = _source(desk, name="Killed")
    resumed = run_killed_then_resumed(source, desk, kill_at_request=2, committed_done=4)
    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.message
    assert stored(source) == stored(clean)
    exports = [r for r in desk.requests if "incremental" in r.path]
    # Clean run: 3 pages; killed run: page 1, page 2 never answered; resumed: pages 2 and 3.
    assert [("cursor" in r.args) for r in exports] == [False, True, True, False, True, True, True]


@pytest.mark.django_db
def test_the_first_run_starts_at_the_configured_date(desk):
    result = run(_source(desk, start_date="2026-02-01"))
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert desk.requests[0].args["start_time"] == "1769904000"


@pytest.mark.django_db
def test_the_api_token_is_in_no_log_line_and_no_run_message(desk, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    good = run(_source(desk))
    desk.fail(1, 401, {"error": f"Couldn't authenticate {TOKEN}"})
    refused = run(_source(desk, name="Refused"))
    assert good.status == SyncRun.Status.SUCCEEDED
    assert refused.status == SyncRun.Status.FAILED
    basic = base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    out, err = capfd.readouterr()
    for text in (caplog.text, out, err, refused.message):
        assert TOKEN not in text
        assert basic not in text
    assert "httpx" in caplog.text  # requests were logged, without their headers
