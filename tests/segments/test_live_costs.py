"""Live counts cannot stall the web tier: a cost cap before a count runs, a time limit on each
statement, a few counts at once per person, each refusal said clearly (JSON or in place)."""

import base64
import http.client
import json
import threading
import time
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cdp_site.counters import slot
from integrations.selectors import write_key_cache_clear
from profiles.catalogue.scan import catalogue_refresh
from profiles.models import DataField, Event, Profile
from segments.cost import definition_cost
from segments.selectors import TOO_EXPENSIVE_LIVE
from tests.factories import SourceFactory

MESSAGE = (
    "This segment is too expensive to count live; save it and it is computed in the background."
)


@pytest.fixture(autouse=True)
def _note_is_not_personal(request):
    """The searched trait is confirmed not personal, so a marketer may search it by text (a
    field the catalogue does not know stays exact-only for them)."""
    if not {"db", "transactional_db", "marketer", "live_server"} & set(request.fixturenames):
        return
    request.getfixturevalue("db" if "live_server" not in request.fixturenames else "live_server")
    now = timezone.now()
    DataField.objects.update_or_create(
        kind="trait",
        event="",
        path="note",
        defaults={
            "classification": "not_personal",
            "classified_by": "person",
            "first_seen_at": now,
            "refreshed_at": now,
        },
    )


def _text_searches(n: int) -> dict:
    return {
        "match": "all",
        "conditions": [
            {"type": "trait", "trait": "note", "operator": "not_contains", "value": f"needle-{i}"}
            for i in range(n)
        ],
    }


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_message_says_what_to_do():
    assert TOO_EXPENSIVE_LIVE == MESSAGE


def test_cost_weighs_text_searches_and_events_and_follows_references():
    referenced = _text_searches(2)
    definition = {
        "match": "any",
        "conditions": [
            {"type": "trait", "trait": "country", "operator": "equals", "value": "DE"},
            {"type": "event", "event": "Order", "count": {"operator": "at_least", "value": 1}},
            {"type": "segment", "segment": 7},
            {"match": "all", "conditions": _text_searches(1)["conditions"]},
        ],
    }
    # 1 (equals) + 3 (event) + 1 (reference) + 2 * 5 (its searches) + 5 (nested search)
    assert definition_cost(definition, {7: referenced}.get) == 20


@pytest.mark.django_db
def test_a_definition_over_the_cost_cap_is_refused_before_it_runs(marketer):
    with CaptureQueriesContext(connection) as queries:
        response = _api(marketer).post(
            "/api/segments/preview/", {"definition": _text_searches(200)}, format="json"
        )
    assert response.status_code == 422
    assert response.json() == {"code": "too_expensive", "message": MESSAGE}
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


@pytest.mark.django_db
def test_the_builder_says_so_in_place_of_the_count(marketer, client_for, settings):
    settings.CDP_LIVE_PREVIEW_MAX_COST = 1
    catalogue_refresh()
    form = {
        "name": "Many searches",
        "node": ["r", "r.0", "r.1"],
        "n-r-type": "group",
        "n-r-match": "all",
        "n-r.0-type": "trait",
        "n-r.0-trait": "note",
        "n-r.0-operator": "not_contains",
        "n-r.0-value": "a",
        "n-r.1-type": "trait",
        "n-r.1-trait": "note",
        "n-r.1-operator": "not_contains",
        "n-r.1-value": "b",
    }
    response = client_for(marketer).post("/segments/preview/", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert MESSAGE in body
    assert 'id="preview-count"' not in body
    # The same definition can still be saved: it is computed in the background.
    saved = client_for(marketer).post("/segments/new/", {**form, "save": "1"})
    assert saved.status_code == 302


@pytest.mark.django_db
def test_a_count_past_its_time_limit_answers_the_clear_error(marketer, settings):
    if connection.vendor != "postgresql":
        pytest.skip("statement timeouts are PostgreSQL's")
    settings.CDP_LIVE_PREVIEW_MAX_COST = 10**6
    settings.CDP_LIVE_QUERY_TIMEOUT_MS = 1
    Profile.objects.bulk_create(
        Profile(traits={"note": f"profile {n} " + "words " * 20}) for n in range(5000)
    )
    response = _api(marketer).post(
        "/api/segments/preview/", {"definition": _text_searches(60)}, format="json"
    )
    assert response.status_code == 422
    assert response.json() == {"code": "too_expensive", "message": MESSAGE}
    # The connection is usable afterwards (the cancelled statement's transaction rolled back).
    assert Profile.objects.count() == 5000


@pytest.mark.django_db
def test_a_person_runs_a_few_live_counts_at_once(marketer, superuser, settings):
    settings.CDP_LIVE_PREVIEWS_PER_USER = 2
    definition = _text_searches(1)
    with slot(f"live-preview:{marketer.pk}", 2, ttl=60), slot(f"live-preview:{marketer.pk}", 2, 60):
        busy = _api(marketer).post(
            "/api/segments/preview/", {"definition": definition}, format="json"
        )
        other = _api(superuser).post(
            "/api/segments/preview/", {"definition": definition}, format="json"
        )
    assert busy.status_code == 429
    assert busy["Retry-After"] == "1"
    assert busy.json()["code"] == "too_many_requests"
    assert other.status_code == 200
    # Slots are given back: once the others finished, the count runs.
    again = _api(marketer).post("/api/segments/preview/", {"definition": definition}, format="json")
    assert again.status_code == 200


# --- under load: expensive previews beside tracking requests --------------------------------


def _post(port, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.monotonic()
    conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_expensive_previews_answer_the_error_while_tracking_keeps_working(
    live_server, marketer, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("statement timeouts are PostgreSQL's")
    settings.CDP_LIVE_PREVIEW_MAX_COST = 10**6
    settings.CDP_LIVE_PREVIEWS_PER_USER = 4
    settings.CDP_LIVE_QUERY_TIMEOUT_MS = 300
    write_key_cache_clear()
    Profile.objects.bulk_create(
        Profile(traits={"note": f"profile {n} " + "words " * 20}) for n in range(20_000)
    )
    source = SourceFactory(name="Web")
    token = Token.objects.create(user=marketer).key
    port = int(live_server.url.rsplit(":", 1)[1])
    previews: list = []

    def preview():
        previews.append(
            _post(
                port,
                "/api/segments/preview/",
                {"definition": _text_searches(200)},
                {"Authorization": f"Token {token}", "Content-Type": "application/json"},
            )
        )

    basic = "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()
    threads = [threading.Thread(target=preview) for _ in range(2)]
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        for thread in threads:
            thread.start()
        tracked = [
            _post(
                port,
                "/v1/track",
                {"userId": f"u{n}", "event": "Clicked", "messageId": f"m{n}"},
                {"Authorization": basic, "Content-Type": "application/json"},
            )
            for n in range(20)
        ]
        for thread in threads:
            thread.join(timeout=60)
    assert [status for status, _data, _took in tracked] == [200] * 20
    assert max(took for _status, _data, took in tracked) < 5
    assert Event.objects.filter(source_id=source.pk).count() == 20
    assert [(status, json.loads(data)["code"]) for status, data, _took in previews] == [
        (422, "too_expensive")
    ] * 2
    assert all(took < 10 for _status, _data, took in previews)
