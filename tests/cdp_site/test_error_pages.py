"""A missing page and a failure show the product's own pages, never Django's debug pages."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_the_products_404(support_agent, client_for):
    response = client_for(support_agent).get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Not found" in body
    assert "Back to the home page" in body
    assert 'class="topbar"' in body  # the product's layout, with its navigation
    assert "URLconf" not in body  # Django's debug page lists the URL patterns
    assert "Using the URLconf" not in body


def test_an_error_is_the_products_500(support_agent, monkeypatch):
    def fail(**_kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr("profiles.selectors.profile_search_for_user", fail)
    client = Client(raise_request_exception=False)
    client.force_login(support_agent)
    response = client.get("/customers/", {"q": "x"})
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "/static/css/app.css" in body
    assert "broken on purpose" not in body  # no traceback shown
    assert "<style" not in body  # no inline styles (the Content-Security-Policy refuses them)


def test_the_api_answers_json_errors(support_agent, client_for):
    response = client_for(support_agent).get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
