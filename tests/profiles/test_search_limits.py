"""A profile search that runs too long gives up with a clear message, not a 500 or a worker
held until the server kills it."""

from unittest import mock

import pytest
from django.db import connection
from rest_framework.test import APIClient

from profiles import selectors
from profiles.models import Profile

pytestmark = pytest.mark.django_db

SLOW = "pg_sleep(0.5) IS NOT NULL"  # each row read takes half a second


@pytest.fixture(autouse=True)
def _postgresql_only(settings):
    if connection.vendor != "postgresql":
        pytest.skip("statement timeouts are PostgreSQL's")
    settings.CDP_SEARCH_TIMEOUT_MS = 50


def _slow_search(**_kwargs):
    list(Profile.objects.extra(where=[SLOW]))  # noqa: S610 (a fixed test clause)
    return []


def test_a_slow_search_says_so_on_the_page(support_agent, client_for):
    Profile.objects.create(traits={"name": "Jane"})
    with mock.patch.object(selectors, "profile_search", _slow_search):
        response = client_for(support_agent).get("/customers/", {"q": "Ja"})
    assert response.status_code == 200
    assert selectors.SEARCH_TOO_SLOW in response.content.decode()
    # The page still works afterwards.
    assert client_for(support_agent).get("/customers/", {"q": "Ja"}).status_code == 200


def test_a_slow_search_answers_422_in_the_api(support_agent):
    Profile.objects.create(traits={"name": "Jane"})
    client = APIClient()
    client.force_authenticate(support_agent)
    slow = Profile.objects.extra(where=[SLOW])  # noqa: S610 (a fixed test clause)
    with mock.patch.object(selectors, "profile_filter_by_identifiers", return_value=slow):
        response = client.get("/api/profiles/", {"q": "Ja"})
    assert response.status_code == 422
    assert response.json() == {"code": "too_expensive", "message": selectors.SEARCH_TOO_SLOW}
