"""The profiles REST API: find, read, events; redirects for merged profiles; masking; auth."""

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from profiles.identity import events_resolve_pending
from profiles.models import Identity
from tests.factories import EventFactory, merged_pair

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def lee():
    EventFactory(type="page", anonymous_id="a-lee", timestamp=T0)
    EventFactory(
        type="identify",
        anonymous_id="a-lee",
        user_id="lee-1",
        traits={"email": "Lee@Shop.io", "phone": "+1 (206) 555-0100", "name": "Lee Park"},
        timestamp=T0 + dt.timedelta(minutes=1),
    )
    EventFactory(
        type="track",
        event="Order Completed",
        anonymous_id="",
        user_id="lee-1",
        timestamp=T0 + dt.timedelta(minutes=2),
    )
    events_resolve_pending()
    return Identity.objects.get(kind="user_id", value="lee-1").profile


@pytest.mark.parametrize(
    "params",
    [
        {"email": "LEE@shop.io "},
        {"phone": "206-555-0100"},
        {"user_id": "lee-1"},
        {"anonymous_id": "a-lee"},
        {"q": "Lee Park"},
        {"email": "lee@shop.io", "user_id": "lee-1"},
    ],
)
def test_list_filters(lee, support_agent, params):
    response = api_for(support_agent).get("/api/profiles/", params)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [lee.pk]


def test_list_filters_that_match_nobody(lee, support_agent):
    response = api_for(support_agent).get(
        "/api/profiles/", {"email": "lee@shop.io", "user_id": "x"}
    )
    assert response.json()["results"] == []


def test_detail_shape(lee, support_agent):
    data = api_for(support_agent).get(f"/api/profiles/{lee.pk}/").json()
    assert data["id"] == lee.pk
    assert data["traits"]["name"] == "Lee Park"
    assert {"kind": "email", "value": "lee@shop.io"} in data["identities"]
    assert {"kind": "phone", "value": "+12065550100"} in data["identities"]
    assert data["first_seen"].startswith("2026-04-01T10:00")
    assert data["merged_from"] == []
    assert AuditEvent.objects.filter(profile_id=lee.pk, action="profile.view").count() == 1


def test_detail_masked_for_marketer(lee, marketer):
    data = api_for(marketer).get(f"/api/profiles/{lee.pk}/").json()
    assert {"kind": "email", "value": "l***@shop.io"} in data["identities"]
    assert data["traits"]["name"] == "L*** P***"


def test_events_newest_first_paginated(lee, support_agent):
    data = api_for(support_agent).get(f"/api/profiles/{lee.pk}/events/", {"page_size": 2}).json()
    assert data["count"] == 3
    assert [e["type"] for e in data["results"]] == ["track", "identify"]
    assert data["next"]


def test_merged_profile_redirects_to_winner(support_agent):
    merge = merged_pair(T0)
    client = api_for(support_agent)
    response = client.get(f"/api/profiles/{merge.loser_id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/api/profiles/{merge.winner_id}/"
    events = client.get(f"/api/profiles/{merge.loser_id}/events/?page=1")
    assert events["Location"] == f"/api/profiles/{merge.winner_id}/events/?page=1"
    assert client.get(f"/api/profiles/{merge.winner_id}/").json()["merged_from"] == [merge.loser_id]


def test_authentication_and_roles(lee, integration_admin, support_agent, client_for):
    assert APIClient().get(f"/api/profiles/{lee.pk}/").status_code == 401
    assert api_for(integration_admin).get(f"/api/profiles/{lee.pk}/").status_code == 403
    assert api_for(integration_admin).get("/api/profiles/").status_code == 403
    assert client_for(support_agent).get(f"/api/profiles/{lee.pk}/").status_code == 200
    assert api_for(support_agent).get("/api/profiles/99999999/").status_code == 404


def test_q_is_one_more_filter(lee, support_agent):
    client = api_for(support_agent)
    assert (
        client.get("/api/profiles/", {"q": "Lee Park", "email": "nobody@x.io"}).json()["results"]
        == []
    )
    found = client.get("/api/profiles/", {"q": "Lee Park", "email": "lee@shop.io"}).json()
    assert [row["id"] for row in found["results"]] == [lee.pk]


def test_q_with_a_merged_away_id_finds_the_winner(support_agent):
    merge = merged_pair(T0)
    found = api_for(support_agent).get("/api/profiles/", {"q": str(merge.loser_id)}).json()
    assert [row["id"] for row in found["results"]] == [merge.winner_id]


def test_marketers_find_by_exact_identifier_only(lee, marketer, support_agent):
    marketer_api, agent_api = api_for(marketer), api_for(support_agent)
    # A prefix would let someone spell an address out one letter at a time.
    assert marketer_api.get("/api/profiles/", {"q": "lee@sh"}).json()["results"] == []
    assert marketer_api.get("/api/profiles/", {"q": "Lee Pa"}).json()["results"] == []
    exact = marketer_api.get("/api/profiles/", {"q": "LEE@shop.io"}).json()["results"]
    assert [row["id"] for row in exact] == [lee.pk]
    assert len(agent_api.get("/api/profiles/", {"q": "lee@sh"}).json()["results"]) == 1


@pytest.mark.parametrize(
    "params", [{"q": "²"}, {"q": "\x00"}, {"email": "\x00"}, {"user_id": "a\x00b"}, {"q": "¹²³"}]
)
def test_odd_characters_in_filters_are_no_error(lee, support_agent, params):
    response = api_for(support_agent).get("/api/profiles/", params)
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_marketers_see_event_payloads_masked(lee, marketer):
    data = api_for(marketer).get(f"/api/profiles/{lee.pk}/events/").json()
    identify = next(e for e in data["results"] if e["type"] == "identify")
    assert identify["traits"]["phone"].endswith("00")
    assert "206" not in identify["traits"]["phone"]
    assert identify["userId"] != "lee-1"
