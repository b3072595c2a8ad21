"""Each destination is delivered on its own: one hanging destination does not hold up another's
run, and two runs never write to one destination at once."""

import threading

import pytest

from integrations.activation.runner import (
    DestinationBusyError,
    audience_sync_run_execute,
)
from integrations.models import SyncRun
from segments.models import Segment
from segments.services import segment_refresh
from tests.integrations.protocol_servers.webhook import WebhookReceiver

from .conftest import (
    SECRET,
    VIP,
    consent_set,
    profiles_make,
    queued_run,
    sync_make,
    vip_segment,
    webhook_destination,
)


@pytest.mark.django_db(transaction=True)
def test_a_hanging_destination_does_not_delay_another():
    people = profiles_make(6)
    consent_set([p.pk for p in people], True)
    segment = vip_segment()
    with WebhookReceiver(secret=SECRET) as slow, WebhookReceiver(secret=SECRET) as quick:
        slow.fail_next("hang", times=1)
        slow_sync = sync_make(segment, webhook_destination(slow, name="Slow", timeout_seconds=60))
        quick_sync = sync_make(segment, webhook_destination(quick, name="Quick"))
        slow_run = queued_run(slow_sync)
        hanging = threading.Thread(target=audience_sync_run_execute, args=(slow_run.pk,))
        hanging.start()
        try:
            # The slow destination has the request and holds it.
            for _ in range(200):
                if slow.requests:
                    break
                threading.Event().wait(0.05)
            assert slow.requests
            quick_run = queued_run(quick_sync)
            done = audience_sync_run_execute(quick_run.pk)
            assert done.status == SyncRun.Status.SUCCEEDED
            assert quick.member_ids(quick_sync.audience_key) == {p.pk for p in people}
            # ... while the other run is still waiting on its destination.
            assert hanging.is_alive()
            slow_run.refresh_from_db()
            assert slow_run.status == SyncRun.Status.RUNNING
        finally:
            slow.stop()  # releases the hanging answer (504), which the run retries
            hanging.join(60)
        for connection_ in __import__("django.db").db.connections.all():
            connection_.close()


@pytest.mark.django_db(transaction=True)
def test_a_second_run_to_a_busy_destination_waits_its_turn():
    people = profiles_make(3)
    consent_set([p.pk for p in people], True)
    first = vip_segment()
    second = Segment.objects.create(name="VIPs again", definition=VIP)
    segment_refresh(segment_id=second.pk)
    with WebhookReceiver(secret=SECRET) as receiver:
        destination = webhook_destination(receiver)
        a = sync_make(first, destination)
        b = sync_make(second, destination)
        run_a = queued_run(a)
        run_b = queued_run(b)
        # Run A holds the destination (as if its worker were delivering).
        from integrations.models import Destination

        Destination.objects.filter(pk=destination.pk).update(lease_run=run_a)
        from django.utils import timezone

        Destination.objects.filter(pk=destination.pk).update(
            lease_until=timezone.now() + timezone.timedelta(minutes=5)
        )
        with pytest.raises(DestinationBusyError):
            audience_sync_run_execute(run_b.pk)
        run_b.refresh_from_db()
        assert run_b.status == SyncRun.Status.QUEUED
        assert not receiver.requests
        assert audience_sync_run_execute(run_a.pk).status == SyncRun.Status.SUCCEEDED
        assert audience_sync_run_execute(run_b.pk).status == SyncRun.Status.SUCCEEDED
        assert receiver.member_ids(b.audience_key) == {p.pk for p in people}
