"""CRM contacts against a local server speaking HubSpot's CRM v3 search protocol, through the
runner to stored events: `after` paging, the 10,000-result window, incremental runs, retries,
refusals, a killed worker."""

from datetime import timedelta

import pytest

from integrations.connectors import hubspot_contacts
from integrations.connectors.hubspot_contacts import HubspotContacts
from integrations.models import SyncRun
from profiles.models import Event
from tests.integrations.http_sources import run, run_killed_then_resumed, source_create, stored
from tests.integrations.protocol_servers.hubspot import BASE_TIME, TOKEN, HubspotServer

CONTACTS = 250  # three pages of 100


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.CDP_SYNC_RETRY_BASE_SECONDS = 0.01
    settings.CDP_SYNC_RETRY_MAX_SECONDS = 0.05
    settings.CDP_SYNC_RETRY_ATTEMPTS = 4


@pytest.fixture
def crm():
    server = HubspotServer(threaded=True)
    for contact in range(1, CONTACTS + 1):
        server.put_contact(contact, company="Acme", lifecyclestage="lead")
    server.start()
    yield server
    server.stop()


def _source(crm, name: str = "CRM", token: str = TOKEN, **values):
    return source_create(
        "hubspot_contacts", name=name, base_url=crm.base_url, access_token=token, **values
    )


def _bodies(crm) -> list[dict]:
    return [r.json for r in crm.requests if r.path.endswith("/search")]


def test_the_connection_check_counts_the_contacts(crm):
    connector = HubspotContacts({"base_url": crm.base_url}, {"access_token": TOKEN})
    assert connector.check_connection().message == "Connected: 250 contacts visible."
    wrong = HubspotContacts({"base_url": crm.base_url}, {"access_token": "pat-wrong"})
    check = wrong.check_connection()
    assert not check.ok
    assert "HubSpot refused the private app access token (401)" in check.message


@pytest.mark.django_db
def test_a_run_pages_by_after_and_stores_each_contact_as_an_identify(crm):
    source = _source(crm)
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert (result.records_read, result.records_stored) == (250, 250)
    assert (result.progress_done, result.progress_total) == (250, 250)
    bodies = _bodies(crm)
    assert [b.get("after") for b in bodies] == [None, "100", "200"]
    assert bodies[0]["filterGroups"] == []
    assert bodies[0]["limit"] == 100
    assert bodies[0]["sorts"] == [
        {"propertyName": "lastmodifieddate", "direction": "ASCENDING"},
        {"propertyName": "hs_object_id", "direction": "ASCENDING"},
    ]
    assert {"email", "firstname", "lastname", "phone", "company", "lifecyclestage"} <= set(
        bodies[0]["properties"]
    )
    assert {r.headers["Authorization"] for r in crm.requests} == {f"Bearer {TOKEN}"}

    contact = Event.objects.get(source_id=source.pk, user_id="7")
    assert contact.type == "identify"
    assert contact.traits == {
        "email": "contact7@example.com",
        "first_name": "Contact",
        "last_name": "7",
        "company": "Acme",
        "lifecyclestage": "lead",
        "createdate": "2026-03-01T00:07:00.000Z",
        "hubspot_contact_id": "7",
    }
    assert contact.context["externalIds"][0] == {
        "id": "7",
        "type": "hubspot_contact_id",
        "collection": "users",
        "encoding": "none",
    }
    assert contact.timestamp == BASE_TIME + timedelta(minutes=7)


@pytest.mark.django_db
def test_the_next_run_searches_after_the_last_contact_read(crm):
    source = _source(crm)
    run(source)
    source.refresh_from_db()
    last_ms = int((BASE_TIME + timedelta(minutes=250)).timestamp() * 1000)
    assert source.checkpoint == {"since_ms": last_ms, "since_id": "250"}
    crm.put_contact(12, lifecyclestage="customer")
    crm.put_contact(251)
    crm.requests.clear()
    second = run(source)
    assert _bodies(crm)[0]["filterGroups"] == [
        {
            "filters": [
                {"propertyName": "lastmodifieddate", "operator": "GT", "value": str(last_ms)}
            ]
        },
        {
            "filters": [
                {"propertyName": "lastmodifieddate", "operator": "EQ", "value": str(last_ms)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": "250"},
            ]
        },
    ]
    assert (second.records_read, second.records_stored) == (2, 2)
    assert Event.objects.get(
        source_id=source.pk, user_id="12", traits__lifecyclestage="customer"
    ).traits["company"] == ("Acme")


@pytest.mark.django_db
def test_the_search_window_is_never_crossed_even_when_many_share_a_time(crm, monkeypatch):
    monkeypatch.setattr(hubspot_contacts, "PAGE_SIZE", 3)
    monkeypatch.setattr(hubspot_contacts, "SEARCH_WINDOW", 9)
    crm.window = 9
    crm.contacts.clear()
    same = BASE_TIME + timedelta(days=3)
    for contact in range(1, 26):
        crm.put_contact(contact, modified=same if contact > 4 else None)
    source = _source(crm)
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert (result.records_read, result.records_stored) == (25, 25)
    restarts = [b for b in _bodies(crm) if "after" not in b]
    assert len(restarts) == 3
    assert restarts[1]["filterGroups"][1]["filters"][1] == {
        "propertyName": "hs_object_id",
        "operator": "GT",
        "value": "9",
    }
    assert all(int(b.get("after", 0)) + 3 <= 9 for b in _bodies(crm))


@pytest.mark.django_db
def test_two_runs_of_the_same_contacts_store_them_once(crm):
    source = _source(crm)
    run(source)
    source.checkpoint = {}
    source.save()
    again = run(source)
    assert (again.records_read, again.records_stored, again.records_unchanged) == (250, 0, 250)


@pytest.mark.django_db
def test_throttling_and_server_errors_are_retried(crm):
    source = _source(crm)
    crm.fail(1, 429, {"status": "error", "message": "Rate limit"}, headers={"Retry-After": "0"})
    crm.fail(3, 502, b"<html>Bad gateway</html>", content_type="text/html")
    result = run(source)
    assert result.status == SyncRun.Status.SUCCEEDED, result.message
    assert result.retries == 4
    assert result.records_stored == 250


@pytest.mark.django_db
def test_answers_without_results_fail_the_run_after_a_few(crm):
    crm.fail(3, 200, {"total": 1})
    result = run(_source(crm))
    assert result.status == SyncRun.Status.FAILED
    assert "without results (3 times in a row)" in result.message


@pytest.mark.django_db
def test_a_refused_token_fails_the_run_at_once(crm):
    result = run(_source(crm, token="pat-na1-revoked"))
    assert result.status == SyncRun.Status.FAILED
    assert result.retries == 0
    assert "refused the private app access token (401): Authentication credentials" in (
        result.message
    )
    assert "pat-na1-revoked" not in result.message


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_resumes_from_its_checkpoint_and_stores_what_a_clean_run_does(crm):
    clean = _source(crm, name="Clean")
    assert run(clean).status == SyncRun.Status.SUCCEEDED
    source = _source(crm, name="Killed")
    resumed = run_killed_then_resumed(source, crm, kill_at_request=3, committed_done=200)
    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.message
    assert stored(source) == stored(clean)
    # Clean: 3 pages; killed: pages 1 and 2, page 3 never answered; resumed: page 3 again.
    assert [b.get("after") for b in _bodies(crm)] == [None, "100", "200", None, "100", "200", "200"]


@pytest.mark.django_db
def test_contact_ids_can_be_external_ids_only(crm):
    source = _source(crm, person_id_as="external_id")
    run(source)
    contact = Event.objects.get(source_id=source.pk, traits__hubspot_contact_id="7")
    assert (contact.user_id, contact.anonymous_id) == ("", "hubspot_contact_id:7")
    assert contact.context["externalIds"][0]["id"] == "7"
    assert contact.context["traits"] == {"email": "contact7@example.com"}


def test_the_next_run_starts_no_later_than_the_searchable_lag_before_this_one():
    lag = hubspot_contacts.SEARCHABLE_LAG_MS
    started = 1_800_000_000_000
    # Contacts changed just before or during the run may not all have been searchable yet.
    assert hubspot_contacts.next_start(started - 1000, "9", started) == {
        "since_ms": started - lag,
        "since_id": None,
    }
    assert hubspot_contacts.next_start(started - lag - 1, "9", started) == {
        "since_ms": started - lag - 1,
        "since_id": "9",
    }
    assert hubspot_contacts.next_start(None, None, started) == {"since_ms": None, "since_id": None}
