"""Event forwarding: the events of chosen sources, filtered by type and name, sent on to a
destination that speaks the tracking API, as runs with a checkpoint on the event id.

A run forwards the events stored up to the moment it started (so it ends), in event id order,
one batch at a time: the batch is delivered, then in one transaction the forward's checkpoint
(`last_event_id`) and the run's counts are committed. Messages keep their messageId, so a batch
delivered again after a lost worker is stored once by a receiver that deduplicates on it (as
this product's tracking API does).
"""

import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from cdp_site.errors import ConflictError, InvalidInputError
from profiles.models import Event

from ..connectors.base import TerminalError, TransientError
from ..models import EventForward, SyncRun, SyncRunError
from ..selectors import event_as_message
from ..sync.claims import run_claim
from ..sync.runner import retry_delay
from .runner import destination_connector

logger = logging.getLogger("cdp.activation")
Status = SyncRun.Status


def forward_events(forward: EventForward):
    """The events this forward sends, after its checkpoint, in id order."""
    events = Event.objects.filter(pk__gt=forward.last_event_id)
    if forward.source_ids:
        events = events.filter(source_id__in=forward.source_ids)
    if forward.types:
        events = events.filter(type__in=forward.types)
    if forward.names:
        events = events.filter(Q(event__in=forward.names) | Q(name__in=forward.names))
    return events.order_by("pk")


def event_forward_create(*, destination, source_ids, types, names, user=None) -> EventForward:
    if not isinstance(source_ids, list) or not all(isinstance(i, int) for i in source_ids):
        raise InvalidInputError("Sources are a list of source ids.", field="source_ids")
    if not isinstance(types, list) or not set(types) <= set(Event.Type.values):
        raise InvalidInputError(f"Types are among {', '.join(Event.Type.values)}.", field="types")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise InvalidInputError("Names are a list of event or page names.", field="names")
    return EventForward.objects.create(
        destination=destination, source_ids=source_ids, types=types, names=names, created_by=user
    )


def _publish(run_id: int) -> None:
    from cdp_site.celery import task_publish

    from .tasks import event_forward_run_task

    task_publish(event_forward_run_task, run_id)


def event_forward_run_start(*, forward: EventForward, trigger: str, user=None) -> SyncRun:
    """Queue a forwarding run; ConflictError while the destination is paused or another runs."""
    if forward.destination.paused:
        raise ConflictError(
            f"Destination “{forward.destination.name}” is paused.", code="destination_paused"
        )
    with transaction.atomic():
        if SyncRun.objects.filter(event_forward=forward, status__in=SyncRun.ACTIVE).exists():
            raise ConflictError("A forwarding run is already going.", code="run_active")
        up_to = Event.objects.aggregate(m=Max("pk"))["m"] or 0
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    kind=SyncRun.Kind.FORWARD,
                    event_forward=forward,
                    trigger=trigger,
                    requested_by=user,
                    checkpoint={"up_to": up_to},
                )
        except IntegrityError:
            raise ConflictError("A forwarding run is already going.", code="run_active") from None
        transaction.on_commit(lambda: _publish(run.pk))
    return run


def _deliver(connector, messages: list[dict]):
    failures = 0
    while True:
        try:
            return connector.forward(messages)
        except TransientError as problem:
            failures += 1
            if failures > settings.CDP_SYNC_RETRY_ATTEMPTS:
                raise
            time.sleep(retry_delay(failures, problem.retry_after))


def event_forward_run_execute(run_id: int) -> SyncRun | None:
    """Claim a queued forwarding run and forward its events; None if not claimable."""
    token = run_claim(run_id, SyncRun.Kind.FORWARD)
    if token is None:
        return None
    run = SyncRun.objects.select_related("event_forward__destination").get(pk=run_id)
    forward = run.event_forward
    up_to = run.checkpoint.get("up_to", 0)
    status, message = Status.SUCCEEDED, ""
    try:
        connector = destination_connector(forward.destination)
        size = max(1, min(getattr(connector, "max_batch", 500), settings.CDP_FORWARD_BATCH_SIZE))
        while True:
            forward.refresh_from_db(fields=["last_event_id"])
            events = list(forward_events(forward).filter(pk__lte=up_to)[:size])
            if not events:
                break
            result = _deliver(connector, [event_as_message(e) for e in events])
            with transaction.atomic():
                locked = SyncRun.objects.select_for_update().get(pk=run_id)
                if locked.claim_token != token or locked.status != Status.RUNNING:
                    return locked
                failed = [f for f in result.failures if 0 <= f.profile_id < len(events)]
                SyncRunError.objects.bulk_create(
                    [
                        SyncRunError(
                            run_id=run_id,
                            position=f"event {events[f.profile_id].pk}",
                            reason=f.reason[:2000],
                        )
                        for f in failed[: settings.CDP_SYNC_ERRORS_KEPT]
                    ]
                )
                EventForward.objects.filter(pk=forward.pk).update(last_event_id=events[-1].pk)
                locked.records_read += len(events)
                locked.records_stored += len(events) - len(failed)
                locked.records_failed += len(failed)
                locked.progress_done = locked.records_read
                locked.checkpoint = {"up_to": up_to, "last_event_id": events[-1].pk}
                locked.heartbeat_at = timezone.now()
                locked.save()
        run.refresh_from_db()
        message = f"{run.records_stored:,} events forwarded" + (
            f", {run.records_failed:,} refused." if run.records_failed else "."
        )
    except (TransientError, TerminalError) as problem:
        status, message = Status.FAILED, problem.message
    except Exception as problem:
        logger.exception("forwarding run failed", extra={"run_id": run_id})
        status, message = (
            Status.FAILED,
            f"The run stopped on an unexpected error ({type(problem).__name__}).",
        )
    SyncRun.objects.filter(pk=run_id, claim_token=token).update(
        status=status, message=message, finished_at=timezone.now(), claim_token=""
    )
    return SyncRun.objects.get(pk=run_id)
