"""REST API basics: token and session authentication, JSON errors, the schema and its docs page."""

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory


def test_me_with_token(marketer):
    token = Token.objects.create(user=marketer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/me/")
    assert response.status_code == 200
    assert response.json() == {
        "username": marketer.username,
        "is_superuser": False,
        "roles": ["marketer"],
    }


def test_me_with_session(client_for, superuser):
    response = client_for(superuser).get("/api/me/", HTTP_ACCEPT="application/json")
    assert response.json()["roles"] == [
        "compliance_officer",
        "integration_admin",
        "marketer",
        "support_agent",
    ]


@pytest.mark.django_db
def test_me_without_credentials_is_json_401():
    response = APIClient().get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_me_with_bad_token_is_json_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_drf_create_token_command_gives_a_working_token(marketer, capsys):
    call_command("drf_create_token", marketer.username)
    key = capsys.readouterr().out.split()[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me/").status_code == 200


def test_schema_is_openapi(client_for, marketer):
    response = client_for(marketer).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert "/api/me/" in body["paths"]


def test_docs_page_uses_bundled_assets(client_for, marketer):
    response = client_for(marketer).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()


def test_pagination_answers_with_a_results_list(rf, marketer):
    from rest_framework.request import Request

    from cdp_site.rest import StandardPagination

    request = Request(rf.get("/api/x/", {"page": 2, "page_size": 3}))
    paginator = StandardPagination()
    page = paginator.paginate_queryset(list(range(10)), request)
    body = paginator.get_paginated_response(page).data
    assert body["count"] == 10
    assert body["results"] == [3, 4, 5]


def test_the_api_description_is_for_people_with_a_role(marketer, client_for):
    nobody = UserFactory(username="no_role_yet")
    for path in ("/api/schema/", "/api/docs/"):
        assert client_for(nobody).get(path).status_code == 403
        assert client_for(marketer).get(path).status_code == 200


def test_the_admin_never_shows_a_whole_api_token(superuser, client_for):
    token = Token.objects.create(user=superuser)
    client = client_for(superuser)
    listing = client.get("/admin/cdp_site/apitoken/")
    detail = client.get(f"/admin/cdp_site/apitoken/{superuser.pk}/change/")
    assert (listing.status_code, detail.status_code) == (200, 200)
    for page in (listing.content.decode(), detail.content.decode()):
        assert token.key[:6] in page
        assert token.key not in page
    # DRF's own token admin, which shows keys whole, is gone.
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404


def test_the_openapi_schema_builds_without_warnings(tmp_path):
    """`check --deploy --fail-level WARNING` (CI, production) refuses a schema with warnings."""
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
