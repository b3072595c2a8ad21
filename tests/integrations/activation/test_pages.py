"""Activation pages and API: the segment page's “Send to...” fragment, destinations with their
health, set-up with a connection test, dead letters with replay; secrets never shown back."""

import pytest
from django.contrib.auth.models import Group

from integrations.activation.services import destination_share
from integrations.models import AudienceSync, DeadLetter, Destination, SyncRun
from integrations.secrets import secrets_decrypt

from .conftest import (
    SECRET,
    consent_set,
    profiles_make,
    sync_make,
    vip_segment,
    webhook_destination,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(receiver, marketer):
    """A segment of the marketer's and a webhook destination shared with the marketers."""
    people = profiles_make(5)
    consent_set([p.pk for p in people[:4]], True)
    segment = vip_segment(owner=marketer)
    destination = webhook_destination(receiver)
    destination_share(destination=destination, group=Group.objects.get(name="marketer"))
    return segment, destination, people


def test_the_segment_fragment_offers_shared_destinations_only(shared, marketer, client_for):
    segment, destination, _ = shared
    Destination.objects.create(name="Not shared", kind="webhook")
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client_for(marketer).get(f"/destinations/segment/{segment.pk}/", **headers)
        assert response.status_code == 200
        body = response.content.decode()
        assert f'<option value="{destination.pk}">Hooks</option>' in body
        assert "Not shared" not in body
        assert ("<html" in body) == (not headers)


def test_a_marketer_sends_a_segment_and_sees_the_run_with_left_out_counts(
    shared, marketer, client_for, receiver, django_capture_on_commit_callbacks
):
    segment, destination, people = shared
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(marketer).post(
            f"/destinations/segment/{segment.pk}/",
            {
                "destination": destination.pk,
                "consent_purpose": "advertising",
                "field_mapping": "email = identifier:email\nfirst_name = trait:first_name",
                "mode": "manual",
                "interval_minutes": "60",
            },
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    sync = AudienceSync.objects.get(segment=segment, destination=destination)
    assert receiver.member_ids(sync.audience_key) == {p.pk for p in people[:4]}
    body = (
        client_for(marketer)
        .get(f"/destinations/segment/{segment.pk}/", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "4 sent" in body
    assert "1 left out: 1 no consent for Advertising" in body


def test_a_bad_mapping_is_answered_in_place(shared, marketer, client_for):
    segment, destination, _ = shared
    response = client_for(marketer).post(
        f"/destinations/segment/{segment.pk}/",
        {
            "destination": destination.pk,
            "consent_purpose": "advertising",
            "field_mapping": "email = password:x",
            "mode": "manual",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "must come from a trait" in response.content.decode()
    assert not AudienceSync.objects.exists()


def test_a_marketer_cannot_send_to_a_destination_not_shared(receiver, marketer, client_for):
    segment = vip_segment(owner=marketer)
    destination = webhook_destination(receiver)
    response = client_for(marketer).post(
        f"/destinations/segment/{segment.pk}/",
        {"destination": destination.pk, "consent_purpose": "advertising", "mode": "manual"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert not AudienceSync.objects.exists()


def test_destinations_list_shows_health(shared, integration_admin, client_for):
    segment, destination, _ = shared
    sync = sync_make(segment, destination)
    DeadLetter.objects.create(
        destination=destination, sync=sync, profile_id=1, action="e", reason="bad"
    )
    Destination.objects.filter(pk=destination.pk).update(records_delivered=3, records_failed=1)
    body = client_for(integration_admin).get("/destinations/").content.decode()
    assert "Hooks" in body
    assert "75%" in body
    assert f'href="/destinations/{destination.pk}/dead-letters/">1</a>' in body


def test_the_destination_page_never_shows_the_secret(shared, integration_admin, client_for):
    _, destination, _ = shared
    body = client_for(integration_admin).get(f"/destinations/{destination.pk}/").content.decode()
    assert SECRET not in body


def test_setup_tests_the_connection_then_saves_with_the_secret_encrypted(
    receiver, integration_admin, client_for
):
    client = client_for(integration_admin)
    form = {
        "kind": "webhook",
        "name": "Ours",
        "cfg_url": receiver.url + "/hook",
        "cfg_signing_secret": SECRET,
    }
    response = client.post("/destinations/new/", {**form, "action": "test"})
    assert response.status_code == 200
    assert "Connected" in response.content.decode()
    assert not Destination.objects.exists()
    response = client.post("/destinations/new/", {**form, "action": "save"})
    destination = Destination.objects.get(name="Ours")
    assert response.status_code == 302
    assert SECRET not in destination.secrets_encrypted
    assert secrets_decrypt(destination.secrets_encrypted)["signing_secret"] == SECRET
    # Saved again with the secret left blank: it is kept.
    client.post(
        f"/destinations/{destination.pk}/",
        {"name": "Ours", "cfg_url": receiver.url + "/hook", "action": "save"},
    )
    destination.refresh_from_db()
    assert secrets_decrypt(destination.secrets_encrypted)["signing_secret"] == SECRET


def test_a_wrong_secret_fails_the_connection_test_with_the_receivers_answer(
    receiver, integration_admin, client_for
):
    response = client_for(integration_admin).post(
        "/destinations/new/",
        {
            "kind": "webhook",
            "name": "Ours",
            "cfg_url": receiver.url + "/hook",
            "cfg_signing_secret": "wrong",
            "action": "test",
        },
    )
    assert "Connected" not in response.content.decode()
    assert 'class="error"' in response.content.decode()


def test_pause_and_resume(shared, integration_admin, client_for):
    _, destination, _ = shared
    client = client_for(integration_admin)
    client.post(f"/destinations/{destination.pk}/pause/", {"reason": "Vendor outage"})
    destination.refresh_from_db()
    assert destination.paused
    assert destination.paused_reason == "Vendor outage"
    assert "Vendor outage" in client.get(f"/destinations/{destination.pk}/").content.decode()
    client.post(f"/destinations/{destination.pk}/resume/")
    destination.refresh_from_db()
    assert not destination.paused


def test_dead_letters_are_listed_and_replayed_into_a_run(
    shared, integration_admin, client_for, receiver
):
    segment, destination, people = shared
    sync = sync_make(segment, destination)
    letter = DeadLetter.objects.create(
        destination=destination,
        sync=sync,
        profile_id=people[0].pk,
        action="e",
        reason="Invalid e-mail",
    )
    client = client_for(integration_admin)
    assert (
        "Invalid e-mail"
        in client.get(f"/destinations/{destination.pk}/dead-letters/").content.decode()
    )
    response = client.post(f"/destinations/{destination.pk}/dead-letters/replay/")
    assert response.status_code == 302
    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.REPLAYED
    assert SyncRun.objects.filter(audience_sync=sync).count() == 1


def test_a_held_back_dead_letter_is_sent_only_after_replay(shared, receiver):
    from integrations.activation.runner import audience_sync_run_execute, audience_sync_run_start
    from integrations.activation.services import dead_letters_replay

    segment, destination, people = shared
    sync = sync_make(segment, destination)
    DeadLetter.objects.create(
        destination=destination, sync=sync, profile_id=people[0].pk, action="e", reason="bad"
    )
    run = audience_sync_run_execute(audience_sync_run_start(sync=sync, trigger="manual").pk)
    assert people[0].pk not in receiver.member_ids(sync.audience_key)
    assert run.left_out_reasons["waiting in the dead-letter list"] == 1
    result = dead_letters_replay(destination=destination, user=None)
    audience_sync_run_execute(result["runs"][0])
    assert people[0].pk in receiver.member_ids(sync.audience_key)


# -- API ----------------------------------------------------------------------------------


def test_api_destinations_take_secrets_and_never_return_them(
    receiver, integration_admin, client_for
):
    client = client_for(integration_admin)
    response = client.post(
        "/api/destinations/",
        {
            "name": "Api hook",
            "kind": "webhook",
            "settings": {"url": receiver.url + "/hook", "signing_secret": SECRET},
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert SECRET not in response.content.decode()
    assert body["secrets_set"] == ["signing_secret"]
    assert body["config"]["url"] == receiver.url + "/hook"
    listing = client.get("/api/destinations/")
    assert SECRET not in listing.content.decode()


def test_api_bad_destination_settings_are_a_clear_400(integration_admin, client_for):
    response = client_for(integration_admin).post(
        "/api/destinations/",
        {"name": "X", "kind": "webhook", "settings": {"url": "ftp://x"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_api_run_action_answers_202_and_the_run_shows_in_sync_runs(
    shared, marketer, client_for, django_capture_on_commit_callbacks
):
    segment, destination, _ = shared
    client = client_for(marketer)
    response = client.post(
        "/api/audience-syncs/",
        {
            "segment": segment.pk,
            "destination": destination.pk,
            "field_mapping": {"email": "identifier:email"},
            "consent_purpose": "advertising",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    sync_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/audience-syncs/{sync_id}/run/")
    assert response.status_code == 202
    assert response.json()["kind"] == "audience"
    run = SyncRun.objects.get(audience_sync_id=sync_id)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert client.post(f"/api/audience-syncs/{sync_id}/run/").status_code in (202, 409)


def test_api_dead_letters_and_replay(shared, integration_admin, client_for):
    segment, destination, _ = shared
    sync = sync_make(segment, destination)
    DeadLetter.objects.create(
        destination=destination, sync=sync, profile_id=7, action="e", reason="bad"
    )
    client = client_for(integration_admin)
    listing = client.get(f"/api/destinations/{destination.pk}/dead-letters/").json()
    assert [row["reason"] for row in listing["results"]] == ["bad"]
    response = client.post(
        f"/api/destinations/{destination.pk}/dead-letters/replay/",
        {},
        content_type="application/json",
    )
    assert response.status_code == 202
    assert response.json()["replayed"] == 1


def test_the_segment_page_loads_the_send_to_fragment(shared, marketer, client_for):
    segment, _, _ = shared
    body = client_for(marketer).get(f"/segments/{segment.pk}/").content.decode()
    assert f'hx-get="/destinations/segment/{segment.pk}/" hx-trigger="load"' in body


def test_a_marketer_cannot_open_the_fragment_of_a_segment_they_do_not_see(
    receiver, marketer, client_for
):
    segment = vip_segment()
    response = client_for(marketer).get(
        f"/destinations/segment/{segment.pk}/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404


def test_sync_runs_api_lists_audience_runs_with_their_kind(shared, integration_admin, client_for):
    segment, destination, _ = shared
    sync = sync_make(segment, destination)
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.AUDIENCE,
        audience_sync=sync,
        records_left_out=1,
        left_out_reasons={"no consent for Advertising": 1},
    )
    client = client_for(integration_admin)
    rows = client.get("/api/sync-runs/").json()["results"]
    assert [(r["id"], r["kind"], r["audience_sync"]) for r in rows] == [
        (run.pk, "audience", sync.pk)
    ]
    detail = client.get(f"/api/sync-runs/{run.pk}/").json()
    assert detail["left_out_reasons"] == {"no consent for Advertising": 1}
