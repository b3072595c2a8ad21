"""Personal data is never kept by browsers or proxies: `Cache-Control: no-store, private` on the
customer 360, its fragments and the APIs that return profiles."""

import pytest
from rest_framework.authtoken.models import Token

from profiles.models import Profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    return Profile.objects.create(traits={"email": "jane@example.com", "name": "Jane"})


PAGES = [
    "/customers/",
    "/customers/?q=jane%40example.com",
    "/customers/{id}/",
    "/customers/{id}/timeline/",
    "/segments/profile/{id}/",
    "/compliance/profile/{id}/consent/",
]
APIS = [
    "/api/profiles/",
    "/api/profiles/{id}/",
    "/api/profiles/{id}/events/",
    "/api/profiles/{id}/segments/",
]


def _assert_private(response):
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    assert {"no-store", "private"} <= directives, response.get("Cache-Control")


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("htmx", [False, True])
def test_customer_pages_and_fragments_are_not_cached(path, htmx, profile, superuser, client_for):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client_for(superuser).get(path.format(id=profile.pk), **headers)
    assert response.status_code == 200
    _assert_private(response)


@pytest.mark.parametrize("path", APIS)
def test_profile_apis_are_not_cached(path, profile, superuser, client):
    token = Token.objects.create(user=superuser).key
    response = client.get(path.format(id=profile.pk), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    _assert_private(response)


def test_a_refusal_is_not_cached_either(profile, integration_admin, client_for):
    response = client_for(integration_admin).get(f"/customers/{profile.pk}/")
    assert response.status_code == 403
    _assert_private(response)
