"""What an integration admin does with sources besides sending data: discard quarantined
messages (seeing why each was refused), delete an unused source, read its events per day; each
change audited, on the pages and through the API."""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from integrations.models import QuarantinedMessage, Source
from integrations.selectors import source_events_per_day
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_resolution_task():
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        yield


def _quarantined(source, reason="“timestamp” is not a date", payload='{"type": "track"}'):
    return QuarantinedMessage.objects.create(
        source=source,
        code="invalid_timestamp",
        reason=reason,
        payload=payload,
        received_at=timezone.now(),
    )


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_the_quarantine_shows_each_reason_and_discards_one(client_for, integration_admin):
    web = SourceFactory(name="Web")
    bad = _quarantined(web, reason="“timestamp” is not a date")
    other = _quarantined(web, reason="A track call needs “event”")
    client = client_for(integration_admin)
    page = client.get(f"/sources/{web.pk}/quarantine/").content.decode()
    assert "“timestamp” is not a date" in page
    assert "A track call needs “event”" in page
    response = client.post(f"/sources/{web.pk}/quarantine/discard/", {"entry": bad.pk}, follow=True)
    assert "Message discarded" in response.content.decode()
    bad.refresh_from_db()
    assert bad.status == QuarantinedMessage.Status.DISCARDED
    assert (bad.discarded_by, bad.discarded_at is not None) == (integration_admin, True)
    assert list(web.quarantine.filter(status="pending")) == [other]
    row = AuditEvent.objects.get(action="quarantine.discard")
    assert row.detail["message"] == bad.pk
    assert row.detail["reason"] == "“timestamp” is not a date"
    assert "payload" not in row.detail
    again = client.post(f"/sources/{web.pk}/quarantine/discard/", {"entry": bad.pk}, follow=True)
    assert "already discarded" in again.content.decode()
    assert AuditEvent.objects.filter(action="quarantine.discard").count() == 1


@pytest.mark.parametrize("entry", ["", "abc", "0", str(2**70)])
def test_a_bad_discard_changes_nothing(client_for, integration_admin, entry):
    web = SourceFactory(name="Web")
    waiting = _quarantined(web)
    response = client_for(integration_admin).post(
        f"/sources/{web.pk}/quarantine/discard/", {"entry": entry}, follow=True
    )
    assert response.status_code == 200
    assert "Choose a quarantined message to discard." in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == QuarantinedMessage.Status.PENDING


def test_another_sources_message_cannot_be_discarded(client_for, integration_admin):
    web, app = SourceFactory(name="Web"), SourceFactory(name="App")
    theirs = _quarantined(app)
    response = client_for(integration_admin).post(
        f"/sources/{web.pk}/quarantine/discard/", {"entry": theirs.pk}, follow=True
    )
    assert "No such quarantined message." in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.status == QuarantinedMessage.Status.PENDING


def test_replay_is_audited(client_for, integration_admin):
    web = SourceFactory(name="Web")
    good = _quarantined(
        web,
        payload='{"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1"}',
    )
    client_for(integration_admin).post(f"/sources/{web.pk}/quarantine/replay/", {})
    good.refresh_from_db()
    assert good.status == QuarantinedMessage.Status.REPLAYED
    row = AuditEvent.objects.get(action="quarantine.replay")
    assert (row.detail["stored"], row.detail["messages"]) == (1, [good.pk])


def test_the_api_lists_replays_and_discards(integration_admin):
    web = SourceFactory(name="Web")
    first, second = _quarantined(web), _quarantined(web, reason="second")
    api = _api(integration_admin)
    listed = api.get(f"/api/sources/{web.pk}/quarantine/")
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert {row["id"]: row["reason"] for row in rows} == {
        first.pk: "“timestamp” is not a date",
        second.pk: "second",
    }
    assert "payload" not in rows[0]
    discarded = api.post(f"/api/sources/{web.pk}/quarantine/{first.pk}/discard/")
    assert (discarded.status_code, discarded.json()["status"]) == (200, "discarded")
    assert api.post(f"/api/sources/{web.pk}/quarantine/{first.pk}/discard/").status_code == 409
    assert api.post(f"/api/sources/{web.pk}/quarantine/999999/discard/").status_code == 404
    replayed = api.post(
        f"/api/sources/{web.pk}/quarantine/replay/", {"entries": [second.pk]}, format="json"
    )
    assert replayed.status_code == 200
    assert replayed.json() == {"stored": 0, "duplicates": 0, "still_invalid": 1}
    assert (
        api.post(
            f"/api/sources/{web.pk}/quarantine/replay/", {"entries": ["x"]}, format="json"
        ).status_code
        == 400
    )
    assert [
        row["id"] for row in api.get(f"/api/sources/{web.pk}/quarantine/").json()["results"]
    ] == [second.pk]


@pytest.mark.parametrize("persona_name", ["marketer", "support_agent", "compliance_officer"])
def test_other_roles_cannot_discard(persona_name, request, client_for):
    web = SourceFactory(name="Web")
    waiting = _quarantined(web)
    user = request.getfixturevalue(persona_name)
    assert (
        client_for(user).post(f"/sources/{web.pk}/quarantine/discard/", {"entry": waiting.pk})
    ).status_code == 403
    assert (
        _api(user).post(f"/api/sources/{web.pk}/quarantine/{waiting.pk}/discard/").status_code
        == 403
    )
    waiting.refresh_from_db()
    assert waiting.status == QuarantinedMessage.Status.PENDING


def test_a_source_with_events_is_not_deleted_from_its_page(client_for, integration_admin):
    web = SourceFactory(name="Web")
    EventFactory(source=web)
    client = client_for(integration_admin)
    page = client.get(f"/sources/{web.pk}/").content.decode()
    assert 'id="delete-refused"' in page
    response = client.post(f"/sources/{web.pk}/delete/", follow=True)
    assert "has events and cannot be deleted; disable it instead" in response.content.decode()
    assert Source.objects.filter(pk=web.pk).exists()
    assert not AuditEvent.objects.filter(action="source.delete").exists()


def test_a_source_without_events_is_deleted_from_its_page(client_for, integration_admin):
    web = SourceFactory(name="Web")
    client = client_for(integration_admin)
    assert 'id="delete-source"' in client.get(f"/sources/{web.pk}/").content.decode()
    response = client.post(f"/sources/{web.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/sources/"
    assert not Source.objects.filter(pk=web.pk).exists()
    row = AuditEvent.objects.get(action="source.delete")
    assert row.detail["source_name"] == "Web"


def test_events_per_day_counts_each_day_of_the_source(integration_admin, client_for):
    web, other = SourceFactory(name="Web"), SourceFactory(name="App")
    now = timezone.now()
    for days_ago, count in ((0, 3), (2, 1), (20, 5)):
        for _ in range(count):
            at = now - dt.timedelta(days=days_ago)
            EventFactory(source=web, timestamp=at, received_at=at)
    EventFactory(source=other)
    days = source_events_per_day(web)
    assert len(days) == 14
    today = now.astimezone(dt.UTC).date()
    assert days[-1] == {"day": today, "count": 3}
    assert {row["day"]: row["count"] for row in days}[today - dt.timedelta(days=2)] == 1
    assert sum(row["count"] for row in days) == 4
    page = client_for(integration_admin).get(f"/sources/{web.pk}/").content.decode()
    assert 'id="events-per-day"' in page


def test_the_source_page_has_copy_buttons_and_no_inline_script(client_for, integration_admin):
    web = SourceFactory(name="Web")
    page = client_for(integration_admin).get(f"/sources/{web.pk}/").content.decode()
    assert 'data-copy-target="#write-key"' in page
    assert page.count('data-copy-target="#snippet-') == 5
    assert "/static/js/copy.js" in page
    assert "onclick" not in page
    assert "<script>" not in page


def test_source_changes_are_audited(client_for, integration_admin):
    client = client_for(integration_admin)
    client.post("/sources/new/", {"name": "Web"})
    web = Source.objects.get(name="Web")
    client.post(f"/sources/{web.pk}/enabled/", {})
    client.post(f"/sources/{web.pk}/enabled/", {"enabled": "on"})
    actions = list(
        AuditEvent.objects.filter(action__startswith="source.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["source.create", "source.disable", "source.enable"]
    assert set(AuditEvent.objects.values_list("username", flat=True)) == {"ian_integrations"}
