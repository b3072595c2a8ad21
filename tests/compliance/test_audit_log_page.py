"""Compliance officers read the audit log: filtered, a page at a time; nobody can change it."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from compliance.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _log(user, action, profile_id=None, **detail):
    return AuditEvent.objects.create(
        user=user, username=user.username, action=action, profile_id=profile_id, detail=detail
    )


def test_the_compliance_officer_reads_and_filters_the_log(
    compliance_officer, support_agent, marketer, client_for
):
    _log(support_agent, "profile.view", 7, page="360")
    _log(marketer, "segment.export", None, rows=3)
    client = client_for(compliance_officer)

    def shown(**params) -> set[tuple[str, str]]:
        response = client.get("/compliance/audit/", params)
        assert response.status_code == 200
        return {(row.username, row.action) for row, _label in response.context["rows"]}

    agent, export = ("sam_support", "profile.view"), ("mia_marketer", "segment.export")
    assert shown() == {agent, export}
    assert shown(user="SAM_SUPPORT") == {agent}
    assert shown(profile="7") == {agent}
    assert shown(action="segment.export") == {export}
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    assert shown(since=tomorrow) == set()
    assert (
        "No entry matches these filters."
        in client.get("/compliance/audit/", {"since": tomorrow}).content.decode()
    )
    # Reading the log is itself logged.
    assert AuditEvent.objects.filter(action="audit_log.view", user=compliance_officer).exists()


def test_the_log_pages_newest_first_without_gaps(compliance_officer, support_agent, client_for):
    for n in range(60):
        _log(support_agent, "profile.view", n)
    client = client_for(compliance_officer)
    first = client.get("/compliance/audit/", {"action": "profile.view"})
    shown = [row for row, _label in first.context["rows"]]
    assert len(shown) == 50
    assert first.context["next_url"]
    second = client.get("/compliance/audit/" + first.context["next_url"])
    rest = [row for row, _label in second.context["rows"]]
    assert len(rest) == 10
    assert not second.context["next_url"]
    profiles = [row.profile_id for row in [*shown, *rest]]
    assert profiles == list(range(59, -1, -1))


@pytest.mark.parametrize(
    "params",
    [
        {"profile": "²"},
        {"profile": str(2**70)},
        {"since": "2024-13-45"},
        {"before": "garbage_x"},
        {"before": "2026-01-01T00:00:00_²"},
        {"user": "a\x00b"},
    ],
)
def test_odd_filters_are_no_error(compliance_officer, client_for, params):
    assert client_for(compliance_officer).get("/compliance/audit/", params).status_code == 200


@pytest.mark.parametrize("persona_name", ["marketer", "support_agent", "integration_admin"])
def test_only_compliance_officers_read_the_log(persona_name, request, client_for):
    user = request.getfixturevalue(persona_name)
    assert client_for(user).get("/compliance/audit/").status_code == 403


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
def test_rows_cannot_be_changed_or_deleted_but_outlive_their_user(support_agent):
    row = _log(support_agent, "profile.view", 7)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).update(action="nothing")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).delete()
    leaver = UserFactory(username="leaver")
    kept = _log(leaver, "profile.view", 8)
    leaver.delete()
    kept.refresh_from_db()
    assert (kept.user, kept.username) == (None, "leaver")


def test_actions_read_as_words(compliance_officer, support_agent, client_for):
    _log(support_agent, "profile.view", 7)
    _log(support_agent, "some.future_action")
    page = client_for(compliance_officer).get("/compliance/audit/").content.decode()
    assert "Viewed a customer profile" in page
    assert "some.future_action" in page  # unknown codes are shown as they are


def test_date_filters_take_whole_utc_days(compliance_officer, support_agent, client_for):
    late = _log(support_agent, "profile.view", 1)
    client = client_for(compliance_officer)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    rows = client.get("/compliance/audit/", {"since": today, "until": today}).context["rows"]
    assert [row.pk for row, _label in rows] == [late.pk]
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    none = client.get("/compliance/audit/", {"until": yesterday}).context["rows"]
    assert [row for row, _label in none if row.action == "profile.view"] == []


def test_rows_under_an_older_code_read_and_filter_as_their_action(
    compliance_officer, integration_admin, client_for
):
    old = _log(integration_admin, "source_debugger_view", source_id=1)
    new = _log(integration_admin, "source.debugger_view", source_id=1)
    client = client_for(compliance_officer)
    page = client.get("/compliance/audit/")
    labels = {row.pk: label for row, label in page.context["rows"]}
    assert labels[old.pk] == labels[new.pk] == "Opened a source's live debugger"
    choices = [code for code, label in page.context["actions"] if label == labels[old.pk]]
    assert choices == ["source.debugger_view"]
    rows = client.get("/compliance/audit/", {"action": "source.debugger_view"}).context["rows"]
    assert {row.pk for row, _label in rows} == {old.pk, new.pk}
