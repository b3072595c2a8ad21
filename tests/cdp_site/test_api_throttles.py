"""The REST API's throttles: per person and per token, 429 with `Retry-After` past the rate."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cdp_site.throttles import rate_parse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_defaults_are_generous(settings):
    assert rate_parse(settings.CDP_API_RATE_PER_USER) == (3000, 60)
    assert rate_parse(settings.CDP_API_RATE_PER_TOKEN) == (3000, 60)


def test_a_person_over_their_rate_gets_429_with_retry_after(settings, support_agent, marketer):
    settings.CDP_API_RATE_PER_USER = "5/min"
    client = APIClient()
    client.force_authenticate(support_agent)
    statuses = [client.get("/api/me/").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = client.get("/api/me/")
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    other = APIClient()
    other.force_authenticate(marketer)
    assert other.get("/api/me/").status_code == 200


def test_a_token_over_its_rate_gets_429_while_its_owner_logged_in_does_not(
    settings, support_agent, marketer, client_for
):
    settings.CDP_API_RATE_PER_TOKEN = "3/min"
    script = _token_client(support_agent)
    assert [script.get("/api/me/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert _token_client(marketer).get("/api/me/").status_code == 200
    # The same person in the browser (session) is counted per person only.
    assert client_for(support_agent).get("/api/me/").status_code == 200
