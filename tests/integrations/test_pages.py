"""Source pages: list, create, detail with snippets, enable/disable, debugger and replay."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.models import AuditEvent
from integrations.models import QuarantinedMessage, Source
from integrations.selectors import source_get_for_user, write_key_cache_clear
from integrations.tracking.ingest import tracking_messages_ingest
from profiles.catalogue.scan import catalogue_refresh
from profiles.identity import events_resolve_pending
from profiles.models import Event
from tests.conftest import PERSONAS
from tests.factories import SourceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_write_keys(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    write_key_cache_clear()
    yield
    write_key_cache_clear()


@pytest.fixture
def admin_client(integration_admin, client_for):
    return client_for(integration_admin)


@pytest.mark.parametrize("persona_name", PERSONAS)
def test_source_get_for_user_per_role(persona_name, request):
    from django.http import Http404

    user = request.getfixturevalue(persona_name)
    source = SourceFactory()
    if persona_name in ("integration_admin", "superuser"):
        assert source_get_for_user(user, source.pk) == source
    else:
        with pytest.raises(Http404):
            source_get_for_user(user, source.pk)


def test_source_granted_to_one_person_is_visible_to_them_only():
    from guardian.shortcuts import assign_perm

    owner, other = UserFactory(username="owner"), UserFactory(username="other")
    source = SourceFactory()
    assign_perm("integrations.view_source", owner, source)
    assert source_get_for_user(owner, source.pk) == source
    with pytest.raises(Exception, match="No such source"):
        source_get_for_user(other, source.pk)


def test_unknown_source_is_404(admin_client):
    assert admin_client.get("/sources/999999/").status_code == 404
    assert admin_client.get("/sources/999999/debugger/").status_code == 404


def test_source_list_shows_sources(admin_client):
    SourceFactory(name="Checkout app")
    response = admin_client.get("/sources/")
    assert response.status_code == 200
    assert "Checkout app" in response.content.decode()


def test_create_source_shows_its_write_key(admin_client, integration_admin):
    response = admin_client.post("/sources/new/", {"name": "  Website "})
    source = Source.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sources/{source.pk}/"
    assert source.name == "Website"
    assert source.created_by == integration_admin
    assert integration_admin.has_perm("integrations.change_source", source)
    html = admin_client.get(response["Location"]).content.decode()
    assert source.write_key in html
    assert "http://testserver" in html
    assert "segment.analytics" in html
    assert "rudderstack.analytics" in html
    assert "analytics-next" in html
    # Analytics.js 2.0 takes the host and the scheme apart, and defaults to https.
    assert 'apiHost: "testserver/v1", protocol: "http"' in html


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Taken", "taken"])
def test_create_source_with_bad_name_shows_the_error(admin_client, name):
    SourceFactory(name="Taken")
    response = admin_client.post("/sources/new/", {"name": name})
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert Source.objects.count() == 1


def test_disable_then_enable_source(admin_client, client):
    source = SourceFactory()
    body = {"batch": [{"type": "track", "userId": "u", "event": "E"}], "writeKey": source.write_key}
    assert client.post("/v1/batch", body, content_type="application/json").status_code == 200
    assert admin_client.post(f"/sources/{source.pk}/enabled/", {}).status_code == 302
    source.refresh_from_db()
    assert source.enabled is False
    refused = client.post("/v1/batch", body, content_type="application/json")
    assert refused.status_code == 403
    admin_client.post(f"/sources/{source.pk}/enabled/", {"enabled": "on"})
    source.refresh_from_db()
    assert source.enabled is True
    assert client.post("/v1/batch", body, content_type="application/json").status_code == 200


def test_toggle_needs_post(admin_client):
    source = SourceFactory()
    assert admin_client.get(f"/sources/{source.pk}/enabled/").status_code == 405


def test_marketer_cannot_disable_a_source(marketer, client_for):
    source = SourceFactory()
    response = client_for(marketer).post(f"/sources/{source.pk}/enabled/", {})
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.enabled is True


def _ingest(source, messages):
    return tracking_messages_ingest(source=source, messages=messages)


def test_debugger_page_shows_messages_counts_and_quarantine(admin_client, integration_admin):
    source = SourceFactory()
    _ingest(
        source,
        [
            {"type": "track", "userId": "u-77", "event": "Checkout Started"},
            {"type": "identify", "userId": "u-77", "traits": {"plan": "gold"}},
            {"type": "track", "userId": "u-77"},
        ],
    )
    response = admin_client.get(f"/sources/{source.pk}/debugger/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in html
    assert "Checkout Started" in html
    assert "missing_event" in html
    assert '<strong data-type="track">1</strong>' in html
    assert '<strong data-type="identify">1</strong>' in html
    assert (
        AuditEvent.objects.filter(user=integration_admin, action="source.debugger_view").count()
        == 1
    )


def test_debugger_fragment_for_htmx_polling(admin_client):
    source = SourceFactory()
    _ingest(source, [{"type": "page", "anonymousId": "a", "name": "Pricing"}])
    response = admin_client.get(f"/sources/{source.pk}/debugger/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "Pricing" in html
    assert 'id="latest"' in html


def test_replay_stores_messages_that_are_now_valid(admin_client, monkeypatch):
    source = SourceFactory()
    _ingest(source, [{"type": "track", "userId": "u", "event": "E", "properties": {"n": 1}}])
    _ingest(
        source,
        [
            {
                "type": "track",
                "userId": "u",
                "event": "E",
                "properties": {str(i): i for i in range(301)},
            }
        ],
    )
    assert QuarantinedMessage.objects.count() == 1
    # The limit is raised (the rules were fixed): the quarantined message is now valid.
    monkeypatch.setattr("integrations.tracking.ingest.MAX_PROPERTIES", 1000)
    response = admin_client.post(f"/sources/{source.pk}/quarantine/replay/", {})
    assert response.status_code == 302
    entry = QuarantinedMessage.objects.get()
    assert entry.status == QuarantinedMessage.Status.REPLAYED
    assert entry.replayed_by is not None
    assert Event.objects.filter(source_id=source.pk).count() == 2
    again = admin_client.post(f"/sources/{source.pk}/quarantine/replay/", {})
    assert again.status_code == 302
    assert Event.objects.filter(source_id=source.pk).count() == 2


def test_replay_of_still_invalid_message_keeps_it_waiting(admin_client):
    source = SourceFactory()
    _ingest(source, [{"type": "track", "userId": "u"}])
    entry = QuarantinedMessage.objects.get()
    response = admin_client.post(f"/sources/{source.pk}/quarantine/replay/", {"entry": entry.pk})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == QuarantinedMessage.Status.PENDING
    assert entry.code == "missing_event"
    assert Event.objects.count() == 0


def test_replay_with_garbage_entry_is_refused_without_change(admin_client):
    source = SourceFactory()
    _ingest(source, [{"type": "track", "userId": "u"}])
    response = admin_client.post(f"/sources/{source.pk}/quarantine/replay/", {"entry": "abc"})
    assert response.status_code == 302
    assert QuarantinedMessage.objects.get().status == QuarantinedMessage.Status.PENDING


def test_create_source_command_prints_the_write_key_last(capsys):
    call_command("create_source", "--name", "Backend")
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == Source.objects.get(name="Backend").write_key


def test_create_source_command_refuses_a_taken_name():
    SourceFactory(name="Backend")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_source", "--name", "backend")
    assert Source.objects.count() == 1


def test_replay_checks_the_batch_context_it_merges(admin_client):
    source = SourceFactory()
    tracking_messages_ingest(
        source=source,
        messages=[{"type": "track", "userId": "u", "event": "E"}],
        batch_context={"ip": "1\x00"},
    )
    entry = QuarantinedMessage.objects.get()
    assert entry.code == "invalid_characters"
    response = admin_client.post(f"/sources/{source.pk}/quarantine/replay/", {})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.status, entry.code) == (QuarantinedMessage.Status.PENDING, "invalid_characters")
    assert Event.objects.count() == 0


def test_a_message_json_is_fetched_when_opened_and_audited(admin_client, superuser):
    source = SourceFactory()
    _ingest(source, [{"type": "identify", "userId": "u-77", "traits": {"plan": "gold"}}])
    # Resolved, the data catalogue knows `plan` is not personal: shown to an integration admin.
    events_resolve_pending()
    catalogue_refresh()
    event = Event.objects.get()
    html = admin_client.get(f"/sources/{source.pk}/debugger/", HTTP_HX_REQUEST="true")
    url = f"/sources/{source.pk}/debugger/messages/{event.pk}/"
    assert url in html.content.decode()
    assert "gold" not in html.content.decode()
    response = admin_client.get(url)
    assert response.status_code == 200
    assert '"plan": "gold"' in response.content.decode()
    assert AuditEvent.objects.filter(action="source.message_view").count() == 1
    other = SourceFactory()
    assert admin_client.get(f"/sources/{other.pk}/debugger/messages/{event.pk}/").status_code == 404
    assert admin_client.get(f"/sources/{source.pk}/debugger/messages/{2**70}/").status_code == 404


def test_the_whole_quarantine_is_paged(admin_client):
    source = SourceFactory()
    _ingest(source, [{"type": "track", "userId": "u", "n": i} for i in range(60)])
    live = admin_client.get(f"/sources/{source.pk}/debugger/", HTTP_HX_REQUEST="true")
    html = live.content.decode()
    assert html.count('id="quarantine-') == 20
    assert "See all 60 quarantined messages" in html
    first = admin_client.get(f"/sources/{source.pk}/quarantine/").content.decode()
    second = admin_client.get(f"/sources/{source.pk}/quarantine/?page=2").content.decode()
    assert first.count('id="quarantine-') == 50
    assert second.count('id="quarantine-') == 10
    assert "Page 2 of 2" in second
    entry = QuarantinedMessage.objects.order_by("pk").first()
    payload = admin_client.get(f"/sources/{source.pk}/quarantine/{entry.pk}/").content.decode()
    # An integration admin sees personal data masked: `n` is not known to be safe.
    assert '"n": "***"' in payload
    assert AuditEvent.objects.filter(action="quarantine.message_view").count() == 1
    garbage = admin_client.get(f"/sources/{source.pk}/quarantine/?page=zzz")
    assert garbage.status_code == 200


def test_the_quarantine_pages_need_the_integration_admin_role(marketer, client_for):
    source = SourceFactory()
    _ingest(source, [{"type": "track", "userId": "u"}])
    entry = QuarantinedMessage.objects.get()
    client = client_for(marketer)
    assert client.get(f"/sources/{source.pk}/quarantine/").status_code == 403
    assert client.get(f"/sources/{source.pk}/quarantine/{entry.pk}/").status_code == 403


def test_the_admin_shows_why_a_message_failed_but_not_the_message(superuser, client_for):
    source = SourceFactory()
    _ingest(source, [{"type": "track", "userId": "secret-user-77"}])
    entry = QuarantinedMessage.objects.get()
    page = client_for(superuser).get(f"/admin/integrations/quarantinedmessage/{entry.pk}/change/")
    assert page.status_code == 200
    assert "missing_event" in page.content.decode()
    assert "secret-user-77" not in page.content.decode()


def test_a_poll_showing_new_messages_is_audited_once(admin_client):
    source = SourceFactory()
    _ingest(source, [{"type": "page", "anonymousId": "a", "name": "Pricing"}])
    admin_client.get(f"/sources/{source.pk}/debugger/")
    poll = f"/sources/{source.pk}/debugger/"
    admin_client.get(poll, HTTP_HX_REQUEST="true")
    assert not AuditEvent.objects.filter(action="source.debugger_poll").exists()
    _ingest(source, [{"type": "page", "anonymousId": "b", "name": "Docs"}])
    admin_client.get(poll, HTTP_HX_REQUEST="true")
    admin_client.get(poll, HTTP_HX_REQUEST="true")
    polls = AuditEvent.objects.filter(action="source.debugger_poll")
    assert polls.count() == 1
    assert polls.get().detail["event_ids"] == [Event.objects.get(anonymous_id="b").pk]


def test_the_debugger_masks_what_the_catalogue_does_not_know_to_be_safe(
    admin_client, superuser, client_for
):
    source = SourceFactory()
    message = {
        "type": "identify",
        "userId": "jane-doe-1",
        "traits": {"plan": "gold", "social_security_number": "078-05-1120"},
        "context": {"page": {"url": "https://shop.example/?email=jane%40example.com"}},
    }
    _ingest(source, [message, {"type": "track", "userId": "jane-doe-1", "x": "4111111111111111"}])
    events_resolve_pending()
    catalogue_refresh()
    event = Event.objects.get()
    live = admin_client.get(f"/sources/{source.pk}/debugger/", HTTP_HX_REQUEST="true")
    assert "jane-doe-1" not in live.content.decode()
    opened = admin_client.get(f"/sources/{source.pk}/debugger/messages/{event.pk}/")
    text = opened.content.decode()
    assert '"plan": "gold"' in text
    for secret in ("jane-doe-1", "078-05-1120", "jane%40example.com", "jane@example.com"):
        assert secret not in text
    entry = QuarantinedMessage.objects.get()
    quarantined = admin_client.get(f"/sources/{source.pk}/quarantine/{entry.pk}/")
    assert "4111111111111111" not in quarantined.content.decode()
    assert "jane-doe-1" not in quarantined.content.decode()
    # People who see personal data see the message as it was sent.
    full = client_for(superuser).get(f"/sources/{source.pk}/debugger/messages/{event.pk}/")
    assert "078-05-1120" in full.content.decode()
