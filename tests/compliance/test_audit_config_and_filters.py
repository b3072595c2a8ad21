"""The audit log keeps configuration changes (segments, roles) besides reads of personal data,
says what is wrong with a filter instead of ignoring it, shows details as text, and exports as
CSV, on the page and through the API."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from segments.models import Segment
from segments.services import (
    segment_create,
    segment_delete,
    segment_share,
    segment_unshare,
    segment_update,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}
US = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "US"}],
}


def _log(user, action, profile_id=None, **detail):
    return AuditEvent.objects.create(
        user=user, username=user.username, action=action, profile_id=profile_id, detail=detail
    )


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_segment_changes_are_audited(marketer):
    colleague = UserFactory(username="colleague")
    segment = segment_create(user=marketer, name="Germany", definition=DE)
    segment_id = segment.pk
    segment_update(segment=segment, user=marketer, definition=US, name="US")
    segment_update(segment=segment, user=marketer, name="US")  # nothing changed
    segment_share(segment=segment, user=marketer, target_user_id=colleague.pk, can_edit=True)
    segment_unshare(segment=segment, user=marketer, target_user_id=colleague.pk)
    segment_delete(segment=segment, user=marketer)
    rows = list(AuditEvent.objects.filter(action__startswith="segment.").order_by("pk"))
    assert [row.action for row in rows] == [
        "segment.create",
        "segment.change",
        "segment.share",
        "segment.unshare",
        "segment.delete",
    ]
    assert {row.username for row in rows} == {"mia_marketer"}
    assert rows[1].detail["changed"] == ["name", "definition"]
    assert rows[2].detail == {
        "segment": segment_id,
        "segment_name": "US",
        "access": "edit",
        "user": "colleague",
    }
    assert not Segment.objects.exists()


def test_role_changes_in_the_admin_are_audited(superuser, client_for):
    person = UserFactory(username="newcomer")
    marketers = Group.objects.get(name="marketer")
    client = client_for(superuser)
    page = client.get(f"/admin/auth/user/{person.pk}/change/")
    form = page.context["adminform"].form
    data = {
        key: value
        for key, value in form.initial.items()
        if value is not None and key not in ("groups", "user_permissions", "password")
    }
    data.update(
        {
            "username": "newcomer",
            "groups": [marketers.pk],
            "date_joined_0": person.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": person.date_joined.strftime("%H:%M:%S"),
            "is_active": "on",
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    response = client.post(f"/admin/auth/user/{person.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = AuditEvent.objects.get(action="user.roles_change")
    assert row.username == "ada_admin"
    assert row.detail == {"person": "newcomer", "added": ["marketer"], "removed": []}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "9999-99-99"}, "From: “9999-99-99” is not a date; write it as YYYY-MM-DD."),
        ({"profile": "abc"}, "“abc” is not a profile id: use its number, as 2452."),
        (
            {"since": "2026-05-02", "until": "2026-05-01"},
            "To (2026-05-01) is before From (2026-05-02): no entry can match.",
        ),
        ({"before": "garbage"}, "This page link is broken"),
    ],
)
def test_bad_filters_are_explained_on_the_page_and_in_the_api(
    compliance_officer, support_agent, client_for, params, message
):
    _log(support_agent, "profile.view", 7)
    response = client_for(compliance_officer).get("/compliance/audit/", params)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="filter-errors"' in page
    assert message in page
    assert response.context["rows"] == []
    assert not AuditEvent.objects.filter(action="audit_log.view").exists()
    answer = _api(compliance_officer).get("/api/audit-log/", params)
    if "before" in params:
        # The API's cursor is its own token: one that cannot be read pages from the newest.
        assert answer.status_code == 200
        assert [row["action"] for row in answer.json()["results"]] == ["profile.view"]
    elif "until" in params:
        # Dates the wrong way round: the API answers what matches, nothing.
        assert answer.status_code == 200
        assert answer.json()["results"] == []
    else:
        assert answer.status_code == 400
        assert message in str(answer.json())
    exported = client_for(compliance_officer).get("/compliance/audit/export.csv", params)
    assert exported.status_code == 400
    assert not AuditEvent.objects.filter(action="audit_log.export").exists()


def test_details_read_as_text(compliance_officer, integration_admin, client_for):
    _log(
        integration_admin,
        "identity_rule.change",
        kind="email",
        changes={"limit": {"from": 5, "to": 2}},
        created=False,
    )
    page = client_for(compliance_officer).get("/compliance/audit/").content.decode()
    assert "Changed an identity rule" in page
    assert "<dt>Kind</dt><dd>email</dd>" in page
    assert "<dt>Changes</dt><dd>limit: 5 → 2</dd>" in page
    assert "<dt>Created</dt><dd>no</dd>" in page
    assert "{&#x27;" not in page  # no Python dict


def test_the_filter_form_is_one_compact_row(compliance_officer, client_for):
    page = client_for(compliance_officer).get("/compliance/audit/").content.decode()
    assert 'class="filters compact"' in page
    assert "/static/css/admin-pages.css" in page


def test_the_log_exports_as_csv_with_the_filters(compliance_officer, support_agent, client_for):
    _log(support_agent, "profile.view", 7, page="360")
    _log(support_agent, "profile.view", 8, page="=HYPERLINK()")
    _log(support_agent, "segment.export", None, rows=3)
    _log(UserFactory(username="=cmd|calc"), "profile.view", 9)
    response = client_for(compliance_officer).get(
        "/compliance/audit/export.csv", {"action": "profile.view"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0] == ["at_utc", "user", "action", "action_code", "profile_id", "details"]
    assert [(line[1], line[3], line[4], line[5]) for line in lines[1:]] == [
        ("'=cmd|calc", "profile.view", "9", ""),
        ("sam_support", "profile.view", "8", "Page: =HYPERLINK()"),
        ("sam_support", "profile.view", "7", "Page: 360"),
    ]
    export = AuditEvent.objects.get(action="audit_log.export")
    assert export.detail == {"filters": {"action": "profile.view"}}


def test_the_api_pages_the_log_and_exports_it(compliance_officer, support_agent):
    for n in range(55):
        _log(support_agent, "profile.view", n + 1)
    api = _api(compliance_officer)
    first = api.get("/api/audit-log/", {"action": "profile.view"}).json()
    assert len(first["results"]) == 50
    assert first["results"][0]["profile_id"] == 55
    assert first["results"][0]["action_label"] == "Viewed a customer profile"
    second = api.get(first["next"]).json()
    assert [row["profile_id"] for row in second["results"]] == [5, 4, 3, 2, 1]
    assert second["next"] is None
    today = dt.datetime.now(dt.UTC).date().isoformat()
    csv_answer = api.get("/api/audit-log/export.csv", {"since": today, "profile": "3"})
    assert csv_answer.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(csv_answer.streaming_content).decode())))
    # The export is recorded before the file is written, so it lists itself.
    assert [(row[3], row[4]) for row in rows[1:]] == [
        ("audit_log.export", "3"),
        ("profile.view", "3"),
    ]
    accepted = api.get("/api/audit-log/export.csv", HTTP_ACCEPT="text/csv")
    assert accepted.status_code == 200


@pytest.mark.parametrize("persona_name", ["marketer", "support_agent", "integration_admin"])
def test_only_compliance_officers_read_or_export_the_log(persona_name, request, client_for):
    user = request.getfixturevalue(persona_name)
    assert client_for(user).get("/compliance/audit/export.csv").status_code == 403
    assert _api(user).get("/api/audit-log/").status_code == 403
    assert _api(user).get("/api/audit-log/export.csv").status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="audit_log.").exists()
