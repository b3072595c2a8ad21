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
from ..sync.runner import retry_delay, run_cancel_with
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


def _filters_checked(source_ids, types, names) -> dict:
    """The forward's filters as stored, or InvalidInputError saying which one is wrong."""
    from ..models import Source

    if not isinstance(source_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in source_ids
    ):
        raise InvalidInputError("Sources are a list of source ids.", field="source_ids")
    unknown = set(source_ids) - set(
        Source.objects.filter(pk__in=source_ids).values_list("pk", flat=True)
    )
    if unknown:
        raise InvalidInputError(
            f"No source has the id {', '.join(map(str, sorted(unknown)))}.", field="source_ids"
        )
    if not isinstance(types, list) or not set(types) <= set(Event.Type.values):
        raise InvalidInputError(f"Types are among {', '.join(Event.Type.values)}.", field="types")
    if not isinstance(names, list) or not all(
        isinstance(n, str) and n.strip() and len(n) <= 200 for n in names
    ):
        raise InvalidInputError(
            "Names are a list of event or page names (up to 200 characters each).", field="names"
        )
    return {
        "source_ids": sorted(set(source_ids)),
        "types": sorted(set(types)),
        "names": list(dict.fromkeys(n.strip() for n in names)),
    }


def event_forward_create(
    *, destination, source_ids, types, names, history: bool = True, user=None
) -> EventForward:
    """Forward the events matching the filters: those already stored too (`history`), or only
    those stored from now on (the checkpoint starts at the newest stored event)."""
    filters = _filters_checked(source_ids, types, names)
    start = 0 if history else (Event.objects.aggregate(m=Max("pk"))["m"] or 0)
    return EventForward.objects.create(
        destination=destination, last_event_id=start, created_by=user, **filters
    )


def event_forward_update(
    *, forward: EventForward, source_ids=None, types=None, names=None, enabled=None
) -> EventForward:
    """Change a forward's filters (each left as it is when None) or switch it on or off."""
    filters = _filters_checked(
        forward.source_ids if source_ids is None else source_ids,
        forward.types if types is None else types,
        forward.names if names is None else names,
    )
    for field_name, value in filters.items():
        setattr(forward, field_name, value)
    if enabled is not None:
        forward.enabled = bool(enabled)
    forward.save(update_fields=[*filters, "enabled"])
    return forward


def event_forward_delete(*, forward: EventForward) -> None:
    """Stop forwarding for good; refused while a run of it is going (cancel it first)."""
    if SyncRun.objects.filter(event_forward=forward, status__in=SyncRun.ACTIVE).exists():
        raise ConflictError(
            "A forwarding run is going: cancel it or wait for it to end first.", code="run_active"
        )
    forward.delete()


def event_forwards_due_start() -> int:
    """Scheduled (every minute): start a run of each enabled forward with events waiting; the
    number started. A forward whose destination is paused, or whose run is going, waits."""
    started = 0
    forwards = EventForward.objects.filter(enabled=True, destination__paused=False)
    for forward in forwards.select_related("destination"):
        if not forward_events(forward).exists():
            continue
        try:
            event_forward_run_start(forward=forward, trigger=SyncRun.Trigger.SCHEDULE)
        except ConflictError:
            continue
        started += 1
    return started


def event_forward_run_cancel(run: SyncRun) -> SyncRun:
    """Cancel a queued forwarding run (or one whose worker is gone) at once, a running one
    after its current batch."""
    return run_cancel_with(run, _cancelled)


def _cancelled(run: SyncRun) -> None:
    run.status = Status.CANCELLED
    run.message = f"Cancelled after {run.records_stored:,} events forwarded."
    run.finished_at = timezone.now()
    run.claim_token = ""
    run.save(update_fields=["status", "message", "finished_at", "claim_token"])


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
                if locked.cancel_requested:
                    # A person asked to stop: the batch just delivered is kept, then it ends.
                    _cancelled(locked)
                    return locked
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
