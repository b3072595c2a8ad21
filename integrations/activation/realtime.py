"""Real-time audience syncs: follow `segments.signals.membership_changed` and start one run per
changed real-time sync, however many changes arrive.

The receiver only flags the syncs (one UPDATE) and asks for one coalesced task
(`cdp_site.task_gate`): a burst of membership changes costs one waiting task, never a task per
change or per profile. A sync whose run is still going keeps its flag, and is started again when
that run ends, so no change waits for the next schedule.
"""

from django.db import transaction

from cdp_site.errors import ConflictError
from cdp_site.task_gate import TaskGate
from segments.signals import membership_changed

from ..models import AudienceSync, SyncRun

REALTIME_GATE = TaskGate("cdp:integrations:audience-realtime-waiting")


def realtime_request() -> None:
    from .tasks import audience_realtime_task

    REALTIME_GATE.request(audience_realtime_task)


def on_membership_changed(sender, *, segment_id: int, **_kwargs) -> None:
    with transaction.atomic():
        flagged = AudienceSync.objects.filter(
            segment_id=segment_id,
            mode=AudienceSync.Mode.REALTIME,
            enabled=True,
            destination__paused=False,
        ).update(realtime_pending=True)
        if flagged:
            transaction.on_commit(realtime_request)


def audience_realtime_start() -> int:
    """Start a run of every flagged real-time sync; the number started."""
    from .runner import audience_sync_run_start

    started = 0
    for sync in AudienceSync.objects.filter(realtime_pending=True).select_related("destination"):
        with transaction.atomic():
            if sync.destination.paused or not sync.enabled:
                AudienceSync.objects.filter(pk=sync.pk).update(realtime_pending=False)
                continue
            try:
                audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.REALTIME)
            except ConflictError:
                # A run is going: the flag stays, and its end asks again.
                continue
            AudienceSync.objects.filter(pk=sync.pk).update(realtime_pending=False)
            started += 1
    return started


def realtime_followup(sync_id: int) -> None:
    """After a run ends: changes flagged while it ran get their run now."""
    if AudienceSync.objects.filter(pk=sync_id, realtime_pending=True).exists():
        transaction.on_commit(realtime_request)


def connect() -> None:
    membership_changed.connect(on_membership_changed, dispatch_uid="integrations.audience_realtime")
