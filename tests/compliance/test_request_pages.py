"""The compliance pages and API for data subject requests: what officers see and do, and that
every other role is refused with nothing changed."""

import datetime as dt
import io
import zipfile

import pytest
from django.utils import timezone

from compliance.models import AuditEvent, DataSubjectRequest, RequestStep
from compliance.requests import request_create, request_verify

pytestmark = pytest.mark.django_db

OTHER_ROLES = ("marketer", "support_agent", "integration_admin")
ACTIONS = {
    "verify": {"note": "passport"},
    "run": {},
    "extend": {"months": "1", "reason": "complex", "told_on": "2026-01-01"},
    "reject": {"reason": "no"},
    "assign": {"assignee": ""},
}


def _request(officer, days_ago=0, **kwargs) -> DataSubjectRequest:
    kwargs.setdefault("type", "erasure")
    kwargs.setdefault("identifiers", {"email": "jane@example.com"})
    return request_create(
        user=officer, received_on=timezone.localdate() - dt.timedelta(days=days_ago), **kwargs
    )


def test_queue_sorts_by_due_date_and_flags_overdue_and_due_this_week(
    compliance_officer, client_for
):
    overdue = _request(compliance_officer, days_ago=40)
    soon = _request(compliance_officer, days_ago=27)
    later = _request(compliance_officer, days_ago=1, type="access")
    page = client_for(compliance_officer).get("/compliance/requests/")
    html = page.content.decode()
    assert page.status_code == 200
    order = [html.index(f"Request {r.pk}<") for r in (overdue, soon, later)]
    assert order == sorted(order)
    assert html.count('class="due-overdue"') == 1
    assert html.count('class="due-due_soon"') == 1
    assert "jane@example.com" not in html  # the queue names no one
    filtered = (
        client_for(compliance_officer).get("/compliance/requests/?type=access").content.decode()
    )
    assert f"Request {later.pk}<" in filtered
    assert f"Request {overdue.pk}<" not in filtered


def test_officer_logs_a_request_with_the_form(compliance_officer, client_for):
    response = client_for(compliance_officer).post(
        "/compliance/requests/new/",
        {
            "type": "erasure",
            "channel": "phone",
            "received_on": timezone.localdate().isoformat(),
            "email": "Jane@Example.com",
            "other_kind": "loyalty_card",
            "other_value": "LC-99812",
        },
    )
    request = DataSubjectRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/compliance/requests/{request.pk}/"
    assert request.identifiers == {"email": ["Jane@Example.com"], "loyalty_card": ["LC-99812"]}
    assert request.channel == "phone"


def test_form_shows_a_bad_identifier_in_place(compliance_officer, client_for):
    response = client_for(compliance_officer).post(
        "/compliance/requests/new/",
        {"type": "erasure", "channel": "email", "received_on": "2026-01-01", "email": "nope"},
    )
    assert response.status_code == 200
    assert b"not a valid e-mail" in response.content
    assert not DataSubjectRequest.objects.exists()


def test_request_page_and_its_progress_fragment(compliance_officer, client_for):
    request = _request(compliance_officer)
    client = client_for(compliance_officer)
    page = client.get(f"/compliance/requests/{request.pk}/")
    assert page.status_code == 200
    assert b"Verify identity" in page.content
    assert b"<html" in page.content
    assert AuditEvent.objects.filter(action="request.view").count() == 1
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        status="in_progress", progress={"done": 2, "total": 8, "stage": "Erasing: Events"}
    )
    fragment = client.get(f"/compliance/requests/{request.pk}/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b'value="25"' in fragment.content
    assert b'hx-trigger="every 1s"' in fragment.content


def test_officer_verifies_and_a_refused_action_is_said_on_the_page(compliance_officer, client_for):
    request = _request(compliance_officer)
    client = client_for(compliance_officer)
    client.post(f"/compliance/requests/{request.pk}/verify/", {"note": "passport"})
    request.refresh_from_db()
    assert request.status == "verified"
    page = client.post(f"/compliance/requests/{request.pk}/verify/", follow=True)
    assert b"cannot be done now" in page.content


@pytest.mark.parametrize("role", OTHER_ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_other_roles_cannot_act_on_a_request(role, action, request, compliance_officer, client_for):
    dsr = _request(compliance_officer)
    request_verify(request=dsr, user=compliance_officer)
    steps = RequestStep.objects.count()
    user = request.getfixturevalue(role)
    response = client_for(user).post(f"/compliance/requests/{dsr.pk}/{action}/", ACTIONS[action])
    assert response.status_code == 403
    api = client_for(user).post(f"/api/compliance/requests/{dsr.pk}/{action}/", ACTIONS[action])
    assert api.status_code in (403, 404)
    dsr.refresh_from_db()
    assert dsr.status == "verified"
    assert dsr.assignee is None
    assert dsr.extension_months == 0
    assert RequestStep.objects.count() == steps


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_cannot_log_or_read_requests(role, request, compliance_officer, client_for):
    dsr = _request(compliance_officer)
    client = client_for(request.getfixturevalue(role))
    assert (
        client.post("/compliance/requests/new/", {"type": "erasure", "email": "a@b.io"}).status_code
        == 403
    )
    response = client.post(
        "/api/compliance/requests/",
        {"type": "erasure", "identifiers": {"email": "a@b.io"}},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert client.get(f"/api/compliance/requests/{dsr.pk}/").status_code == 403
    assert DataSubjectRequest.objects.count() == 1


def test_api_logs_verifies_runs_and_reports(
    compliance_officer, client_for, django_capture_on_commit_callbacks
):
    client = client_for(compliance_officer)
    created = client.post(
        "/api/compliance/requests/",
        {"type": "erasure", "identifiers": {"email": "jane@example.com", "user_id": "u-1"}},
        content_type="application/json",
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert client.get(f"/api/compliance/requests/{pk}/").json()["status"] == "received"
    assert client.post(f"/api/compliance/requests/{pk}/verify/").json()["status"] == "verified"
    with django_capture_on_commit_callbacks(execute=True):
        run = client.post(f"/api/compliance/requests/{pk}/run/")
    assert run.status_code == 202
    body = client.get(f"/api/compliance/requests/{pk}/").json()
    assert body["status"] == "completed"
    assert body["report"]["residual"]["clean"] is True
    assert {row["store"] for row in body["report"]["stores"]} >= {
        "profiles.events",
        "profiles.profiles",
        "segments.memberships",
        "integrations.quarantine",
        "compliance.consent",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "erasure", "identifiers": {"email": "nope"}}, "email"),
        ({"type": "erasure", "identifiers": {}}, "identifiers"),
        ({"type": "forget", "identifiers": {"email": "a@b.io"}}, None),
        ({"type": "erasure", "identifiers": "a@b.io"}, None),
    ],
)
def test_api_refuses_bad_input_with_400(compliance_officer, client_for, body, field):
    response = client_for(compliance_officer).post(
        "/api/compliance/requests/", body, content_type="application/json"
    )
    assert response.status_code == 400
    if field:  # refused by the domain: its code and the field at fault
        assert response.json()["code"] == "invalid"
        assert response.json()["field"] == field
    assert not DataSubjectRequest.objects.exists()


def test_api_extend_and_reject(compliance_officer, client_for):
    dsr = _request(compliance_officer)
    client = client_for(compliance_officer)
    extended = client.post(
        f"/api/compliance/requests/{dsr.pk}/extend/",
        {"months": 2, "reason": "complex", "told_on": timezone.localdate().isoformat()},
        content_type="application/json",
    )
    assert extended.status_code == 200
    assert extended.json()["extension_months"] == 2
    again = client.post(
        f"/api/compliance/requests/{dsr.pk}/extend/",
        {"months": 1, "reason": "more", "told_on": timezone.localdate().isoformat()},
        content_type="application/json",
    )
    assert again.status_code == 409
    rejected = client.post(
        f"/api/compliance/requests/{dsr.pk}/reject/",
        {"reason": "dup"},
        content_type="application/json",
    )
    assert rejected.json()["status"] == "rejected"


def test_archive_link_expires_and_each_download_is_audited(compliance_officer, client_for):
    dsr = _request(compliance_officer, type="access")
    token = "t" * 43
    DataSubjectRequest.objects.filter(pk=dsr.pk).update(
        archive_token=token, archive_expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    client = client_for(compliance_officer)
    response = client.get(f"/compliance/requests/{dsr.pk}/archive/{token}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "data.json" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert client.get(f"/compliance/requests/{dsr.pk}/archive/{'x' * 43}/").status_code == 404
    assert AuditEvent.objects.filter(action="request.archive_download").count() == 1
    DataSubjectRequest.objects.filter(pk=dsr.pk).update(
        archive_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert client.get(f"/compliance/requests/{dsr.pk}/archive/{token}/").status_code == 404
    assert client.get(f"/api/compliance/requests/{dsr.pk}/archive/").status_code == 409
    assert AuditEvent.objects.filter(action="request.archive_download").count() == 1


def test_suppression_page_shows_counts_only(compliance_officer, client_for):
    from compliance.models import SuppressedDrop, Suppression
    from compliance.suppression import identifier_digest

    Suppression.objects.create(kind="email", digest=identifier_digest("email", "jane@example.com"))
    SuppressedDrop.objects.create(source_id=1, day=timezone.localdate(), count=3)
    page = client_for(compliance_officer).get("/compliance/suppression/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<strong id="suppressed-identifiers">1</strong>' in html
    assert identifier_digest("email", "jane@example.com") not in html
    assert "jane" not in html


def test_polling_reloads_the_page_when_the_run_has_ended(compliance_officer, client_for):
    dsr = _request(compliance_officer)
    DataSubjectRequest.objects.filter(pk=dsr.pk).update(status="completed")
    fragment = client_for(compliance_officer).get(
        f"/compliance/requests/{dsr.pk}/", HTTP_HX_REQUEST="true"
    )
    assert fragment["HX-Refresh"] == "true"
