"""Run pages of audience and forwarding runs with cancel and retry (pages and API, for every kind
of run), and event forwarding set up, scheduled and cancelled by an integration admin."""

import pytest

from integrations.activation import forwarding
from integrations.activation.forwarding import (
    event_forward_create,
    event_forward_run_execute,
    event_forward_run_start,
    event_forwards_due_start,
)
from integrations.activation.services import destination_create
from integrations.models import Destination, EventForward, SyncRun
from profiles.models import Event
from tests.factories import SourceFactory
from tests.integrations.protocol_servers.segment import SegmentServer

from .conftest import queued_run, sync_make, track_events, vip_segment, webhook_destination

pytestmark = pytest.mark.django_db
Status = SyncRun.Status


def test_an_audience_run_has_a_page_with_its_counts_and_a_queued_one_is_cancelled_at_once(
    receiver, integration_admin, client_for
):
    destination = webhook_destination(receiver)
    run = queued_run(sync_make(vip_segment(), destination))
    Destination.objects.filter(pk=destination.pk).update(lease_run=run)
    client = client_for(integration_admin)
    page = client.get(f"/destinations/{destination.pk}/runs/{run.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-count="left_out"' in body
    assert "Cancel run" in body
    assert f"/destinations/{destination.pk}/runs/{run.pk}/cancel/" in body

    response = client.post(f"/destinations/{destination.pk}/runs/{run.pk}/cancel/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    # The destination's delivery lease is freed for the next run.
    assert Destination.objects.get(pk=destination.pk).lease_run_id is None
    page = client.get(f"/destinations/{destination.pk}/runs/{run.pk}/").content.decode()
    assert "Retry" in page
    assert "A new run sends what the destination is missing." in page


def test_a_cancelled_audience_run_is_retried_as_a_new_run(receiver, integration_admin, client_for):
    destination = webhook_destination(receiver)
    sync = sync_make(vip_segment(), destination)
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.AUDIENCE, audience_sync=sync, status=Status.CANCELLED
    )
    response = client_for(integration_admin).post(
        f"/destinations/{destination.pk}/runs/{run.pk}/retry/"
    )
    new_run = SyncRun.objects.exclude(pk=run.pk).get(audience_sync=sync)
    assert response.status_code == 302
    assert response["Location"] == f"/destinations/{destination.pk}/runs/{new_run.pk}/"
    assert new_run.status == Status.QUEUED


def test_a_run_is_only_shown_under_its_own_destination(receiver, integration_admin, client_for):
    destination = webhook_destination(receiver)
    other = webhook_destination(receiver, name="Other hooks")
    run = queued_run(sync_make(vip_segment(), destination))
    client = client_for(integration_admin)
    assert client.get(f"/destinations/{other.pk}/runs/{run.pk}/").status_code == 404
    assert client.post(f"/destinations/{other.pk}/runs/{run.pk}/cancel/").status_code == 404
    assert SyncRun.objects.get(pk=run.pk).status == Status.QUEUED


def test_the_api_cancels_and_retries_every_kind_of_run(receiver, integration_admin, client_for):
    client = client_for(integration_admin)
    source_run = SyncRun.objects.create(
        source=SourceFactory(kind="postgres_table", name="Shop DB"), status=Status.QUEUED
    )
    audience_run = queued_run(sync_make(vip_segment(), webhook_destination(receiver)))
    for run in (source_run, audience_run):
        answer = client.post(f"/api/sync-runs/{run.pk}/cancel/")
        assert answer.status_code == 202, answer.content
        assert answer.json()["status"] == "cancelled"
        again = client.post(f"/api/sync-runs/{run.pk}/cancel/")
        assert again.status_code == 409
        assert again.json()["code"] == "run_ended"
    answer = client.post(f"/api/sync-runs/{audience_run.pk}/retry/")
    assert answer.status_code == 202
    assert answer.json()["status"] == "queued"
    assert answer.json()["id"] != audience_run.pk
    # A run that has not ended is not retried.
    assert client.post(f"/api/sync-runs/{answer.json()['id']}/retry/").status_code == 409


def test_people_without_the_change_permission_cannot_cancel_runs(receiver, marketer, client_for):
    run = queued_run(sync_make(vip_segment(), webhook_destination(receiver)))
    assert client_for(marketer).post(f"/api/sync-runs/{run.pk}/cancel/").status_code == 403
    assert SyncRun.objects.get(pk=run.pk).status == Status.QUEUED


@pytest.fixture
def warehouse():
    with SegmentServer(write_key="wk") as server:
        destination = destination_create(
            kind="segment_forward",
            name="Warehouse",
            values={"base_url": server.url, "write_key": "wk"},
        )
        yield server, destination


def test_an_admin_sets_up_forwarding_on_the_page_for_new_events_only(
    warehouse, integration_admin, client_for
):
    server, destination = warehouse
    shop = SourceFactory(name="Shop")
    track_events(3, "before", shop.pk, event="Order Completed")
    client = client_for(integration_admin)
    page = client.get(f"/destinations/{destination.pk}/").content.decode()
    assert 'id="forwards"' in page
    assert "No events are forwarded here yet." in page

    response = client.post(
        f"/destinations/{destination.pk}/forwards/new/",
        {"source_ids": [shop.pk], "types": ["track"], "names": "Order Completed\n\n"},
    )
    assert response.status_code == 302
    forward = EventForward.objects.get(destination=destination)
    assert (forward.source_ids, forward.types, forward.names) == (
        [shop.pk],
        ["track"],
        ["Order Completed"],
    )
    # Unticked history: the checkpoint starts at the newest stored event.
    assert forward.last_event_id == Event.objects.order_by("-pk").first().pk
    assert event_forwards_due_start() == 0

    track_events(2, "after", shop.pk, event="Order Completed")
    track_events(2, "other", shop.pk, event="Page Scrolled")
    assert event_forwards_due_start() == 1
    run = SyncRun.objects.get(event_forward=forward)
    assert run.trigger == SyncRun.Trigger.SCHEDULE
    # One run at a time: the next minute waits for this one.
    assert event_forwards_due_start() == 0
    run = event_forward_run_execute(run.pk)
    assert run.status == Status.SUCCEEDED, run.message
    assert sorted(m["messageId"] for m in server.messages.values()) == ["after-0", "after-1"]
    page = client.get(f"/destinations/{destination.pk}/runs/{run.pk}/").content.decode()
    assert 'data-count="forwarded">2<' in page
    assert "Shop" in client.get(f"/destinations/{destination.pk}/").content.decode()


def test_forwarding_refuses_unknown_sources_and_bad_types(warehouse, integration_admin, client_for):
    _, destination = warehouse
    client = client_for(integration_admin)
    answer = client.post(
        f"/api/destinations/{destination.pk}/forwards/",
        {"source_ids": [987654], "types": ["track"]},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert "987654" in str(answer.json())
    answer = client.post(
        f"/api/destinations/{destination.pk}/forwards/",
        {"types": ["purchase"]},
        content_type="application/json",
    )
    assert answer.status_code == 400
    response = client.post(
        f"/destinations/{destination.pk}/forwards/new/", {"types": ["purchase"]}, follow=True
    )
    assert "Nothing was set up" in response.content.decode()
    assert not EventForward.objects.exists()


def test_the_api_manages_forwards_and_runs_them(warehouse, integration_admin, client_for):
    server, destination = warehouse
    shop = SourceFactory(name="Shop")
    track_events(3, "old", shop.pk, event="Order Completed")
    client = client_for(integration_admin)
    created = client.post(
        f"/api/destinations/{destination.pk}/forwards/",
        {"source_ids": [shop.pk], "history": True},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    forward_id = created.json()["id"]
    assert created.json()["last_event_id"] == 0
    listed = client.get(f"/api/destinations/{destination.pk}/forwards/").json()
    assert [f["id"] for f in listed["results"]] == [forward_id]

    changed = client.patch(
        f"/api/event-forwards/{forward_id}/",
        {"names": ["Order Completed"], "enabled": False},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert (changed.json()["names"], changed.json()["enabled"]) == (["Order Completed"], False)
    assert event_forwards_due_start() == 0  # switched off

    started = client.post(f"/api/event-forwards/{forward_id}/run/")
    assert started.status_code == 202
    assert client.post(f"/api/event-forwards/{forward_id}/run/").status_code == 409
    assert client.delete(f"/api/event-forwards/{forward_id}/").status_code == 409
    run = event_forward_run_execute(started.json()["id"])
    assert run.records_stored == 3
    assert len(server.messages) == 3
    assert client.delete(f"/api/event-forwards/{forward_id}/").status_code == 204
    assert not EventForward.objects.exists()


def test_a_running_forward_asked_to_cancel_stops_after_its_batch(warehouse, settings, monkeypatch):
    settings.CDP_FORWARD_BATCH_SIZE = 2
    server, destination = warehouse
    shop = SourceFactory(name="Shop")
    track_events(6, "e", shop.pk, event="Order Completed")
    forward = event_forward_create(
        destination=destination, source_ids=[shop.pk], types=[], names=[]
    )
    run = event_forward_run_start(forward=forward, trigger=SyncRun.Trigger.MANUAL)
    deliver, batches = forwarding._deliver, []

    def deliver_then_cancel(connector, messages):
        # The person presses Cancel while the first batch is on its way.
        batches.append(messages)
        if len(batches) == 1:
            SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        return deliver(connector, messages)

    monkeypatch.setattr(forwarding, "_deliver", deliver_then_cancel)
    run = event_forward_run_execute(run.pk)
    assert run.status == Status.CANCELLED
    assert run.records_stored == 2
    assert len(server.messages) == 2
    forward.refresh_from_db()
    # What was delivered is checkpointed, so a retry continues after it.
    assert forward.last_event_id == sorted(Event.objects.values_list("pk", flat=True))[1]
