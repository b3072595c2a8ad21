"""The page shell: login and logout, the home page, system status, error pages, static assets."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from tests.conftest import PASSWORD

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.mark.django_db
def test_login_page_is_served_to_anonymous_visitors(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_login_with_right_password_lands_on_home(client, marketer):
    response = client.post(
        "/accounts/login/", {"username": marketer.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert b"Welcome" in response.content


def test_login_with_wrong_password_shows_error(client, marketer):
    response = client.post("/accounts/login/", {"username": marketer.username, "password": "no"})
    assert response.status_code == 200
    assert b"did not match" in response.content
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session(client_for, marketer):
    client = client_for(marketer)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_home_shows_the_role(client_for, support_agent):
    response = client_for(support_agent).get("/")
    assert b"Support agent" in response.content


def test_unknown_page_is_a_friendly_404(client_for, marketer):
    response = client_for(marketer).get("/no-such-page/")
    assert response.status_code == 404
    assert b"There is nothing here" in response.content


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such resource."}


def test_worker_check_queues_a_task_and_shows_its_answer(client_for, integration_admin):
    client = client_for(integration_admin)
    response = client.post("/system/worker-check/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    task_id = re.search(rb"/system/worker-check/([0-9a-f-]{36})/", response.content).group(1)
    result = client.get(f"/system/worker-check/{task_id.decode()}/", HTTP_HX_REQUEST="true")
    assert result.status_code == 200
    assert b'data-state="SUCCESS"' in result.content
    assert b"answered at" in result.content


def test_worker_check_needs_post(client_for, integration_admin):
    assert client_for(integration_admin).get("/system/worker-check/").status_code == 405


def test_worker_check_is_refused_to_marketers(client_for, marketer):
    assert client_for(marketer).post("/system/worker-check/").status_code == 403


def test_page_shell_loads_htmx_and_css_from_our_own_static(client_for, marketer):
    html = client_for(marketer).get("/").content.decode()
    assert re.search(r'<script src="/static/django_htmx/htmx[^"]*\.js"', html)
    assert '<link rel="stylesheet" href="/static/css/app.css">' in html
    assert "hx-headers" in html


def test_plotly_bundle_is_served_from_static():
    assert finders.find("plotly/plotly.min.js")


def test_no_template_loads_anything_from_outside_the_app():
    external = re.compile(r'(src|href)="(https?:)?//', re.IGNORECASE)
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if external.search(path.read_text())
    ]
    assert offenders == []


def test_worker_check_warns_when_no_worker_answers(client_for, integration_admin):
    task_id = "00000000-0000-0000-0000-000000000000"
    client = client_for(integration_admin)
    early = client.get(f"/system/worker-check/{task_id}/?attempt=3", HTTP_HX_REQUEST="true")
    late = client.get(f"/system/worker-check/{task_id}/?attempt=45", HTTP_HX_REQUEST="true")
    assert b'data-state="PENDING"' in early.content
    assert b"Is a worker running" not in early.content
    assert b"Is a worker running" in late.content
    assert b"?attempt=46" in late.content


def test_worker_check_ignores_a_garbled_attempt_count(client_for, integration_admin):
    task_id = "00000000-0000-0000-0000-000000000000"
    response = client_for(integration_admin).get(f"/system/worker-check/{task_id}/?attempt=x")
    assert response.status_code == 200
    assert b"?attempt=1" in response.content


def test_a_form_without_its_csrf_token_gets_the_products_403(marketer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    response = client.post("/segments/new/", {"name": "x"})
    assert response.status_code == 403
    assert "Reload the page and try again" in response.content.decode()
