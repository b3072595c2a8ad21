"""Sync runs: start one, execute it batch by batch, cancel it, resume it after a lost worker.

`sync_run_start` makes a queued run (one active run per source: a partial unique constraint);
the task `integrations.sync_run` calls `sync_run_execute`, which claims the run and stores each
batch the connector reads in one transaction: the events, the counts and errors, and the
checkpoint on the run and the source. A run killed at any point therefore resumes from its last
committed batch, and messageIds derived from the record versions make the replay of a batch
that was being written when it died store nothing twice.

Transient connector errors are retried with capped exponential backoff and jitter (or after the
source's Retry-After), re-reading from the last committed checkpoint; terminal ones fail the run
with their message. A cancel request is honoured between batches. A running run without a
heartbeat for `CDP_SYNC_STALE_SECONDS` lost its worker: the sweep (beat) and the next start
queue it again, and the worker that claims it continues from its checkpoint.
"""

import logging
import random
import time
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cdp_site.errors import ConflictError, InvalidInputError
from integrations.connectors.base import (
    Connector,
    ReadBatch,
    RecordError,
    TerminalError,
    TransientError,
)
from integrations.connectors.registry import connector_class
from integrations.models import Source, SyncRun, SyncRunError
from integrations.secrets import secrets_decrypt

from .claims import RunLostError, run_claim, run_locked
from .prefetch import Prefetched
from .records import source_records_store

logger = logging.getLogger("cdp.sync")

Status = SyncRun.Status


def source_connector(source: Source) -> Connector:
    """The source's connector, with its settings and decrypted secrets."""
    cls = connector_class(source.kind)
    return cls(config=dict(source.config), secrets=secrets_decrypt(source.secrets_encrypted))


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.CDP_SYNC_STALE_SECONDS)


def run_is_stale(run: SyncRun) -> bool:
    """A running run whose worker has committed nothing for too long: it is gone."""
    return (
        run.status == Status.RUNNING
        and run.heartbeat_at is not None
        and run.heartbeat_at < _stale_before()
    )


def _publish(run_id: int) -> None:
    from cdp_site.celery import task_publish
    from integrations.activation.tasks import audience_sync_run_task, event_forward_run_task
    from integrations.tasks import sync_run_task

    # The sweep resumes every kind of run: each goes back to its own task.
    kind = SyncRun.objects.filter(pk=run_id).values_list("kind", flat=True).first()
    task = {
        SyncRun.Kind.AUDIENCE: audience_sync_run_task,
        SyncRun.Kind.FORWARD: event_forward_run_task,
    }.get(kind, sync_run_task)
    task_publish(task, run_id)


def _requeue(run: SyncRun, message: str) -> bool:
    """Put a run back in the queue (conditional on what we saw), its task published on commit."""
    requeued = SyncRun.objects.filter(
        pk=run.pk, status=run.status, claim_token=run.claim_token
    ).update(status=Status.QUEUED, resumes=F("resumes") + 1, claim_token="", message=message)
    if requeued:
        transaction.on_commit(lambda: _publish(run.pk))
    return bool(requeued)


def sync_run_start(*, source: Source, trigger: str, user=None) -> SyncRun:
    """Queue a run of a pull source; ConflictError while another run of it is active (unless
    that one lost its worker: it is resumed and returned)."""
    if source.is_tracking:
        raise InvalidInputError("A tracking API source receives data: it has no sync runs.")
    if not connector_class(source.kind).pulls:
        raise InvalidInputError(f"Source “{source.name}” receives pushed data: it has no runs.")
    if not source.enabled:
        raise ConflictError(f"Source “{source.name}” is disabled: enable it to sync it.")
    with transaction.atomic():
        active = (
            SyncRun.objects.select_for_update()
            .filter(source=source, status__in=SyncRun.ACTIVE)
            .first()
        )
        if active is not None:
            if run_is_stale(active) and _requeue(active, "Resumed: the worker running it stopped."):
                active.refresh_from_db()
                return active
            raise ConflictError(
                f"Run {active.pk} of “{source.name}” is {active.get_status_display().lower()}: "
                "wait for it to end or cancel it.",
                code="run_active",
            )
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(source=source, trigger=trigger, requested_by=user)
        except IntegrityError:
            raise ConflictError(
                f"Another run of “{source.name}” has just started.", code="run_active"
            ) from None
        transaction.on_commit(lambda: _publish(run.pk))
    return run


def run_cancel_with(run: SyncRun, finish: Callable[[SyncRun], None]) -> SyncRun:
    """Cancel a run of any kind: a queued one (or one whose worker is gone) is ended at once by
    `finish(run)`, its runner's own ending (message, what it frees); a running one is asked to
    stop after its current batch. ConflictError once it has ended."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.status == Status.QUEUED or run_is_stale(run):
            finish(run)
        elif run.status == Status.RUNNING:
            run.cancel_requested = True
            run.message = "Cancelling after the current batch."
            run.save(update_fields=["cancel_requested", "message"])
        else:
            raise ConflictError("This run has already ended.", code="run_ended")
    return run


def sync_run_cancel(*, run: SyncRun) -> SyncRun:
    """Cancel a queued run at once, a running one after its current batch."""
    return run_cancel_with(
        run, lambda r: _finish(r, Status.CANCELLED, f"Cancelled after {r.records_read:,} records.")
    )


def sync_run_retry(*, run: SyncRun, user=None) -> SyncRun:
    """A new run of a failed or cancelled run's source, from the source's last checkpoint."""
    if run.status not in (Status.FAILED, Status.CANCELLED):
        raise ConflictError("Only a failed or cancelled run can be retried.", code="run_not_ended")
    return sync_run_start(source=run.source, trigger=SyncRun.Trigger.MANUAL, user=user)


def sync_runs_sweep() -> int:
    """Queue again the runs that lost their worker, and the queued runs whose task may have been
    lost (a broker that was down); the number of runs queued."""
    stale = _stale_before()
    count = 0
    for run in SyncRun.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale):
        with transaction.atomic():
            count += _requeue(run, "Resumed: the worker running it stopped.")
    for run_id in SyncRun.objects.filter(status=Status.QUEUED, created_at__lt=stale).values_list(
        "pk", flat=True
    ):
        # Claiming is conditional: a second task for the same run does nothing.
        _publish(run_id)
        count += 1
    return count


# -- execution -------------------------------------------------------------------------------


def _claim(run_id: int) -> str | None:
    return run_claim(run_id, SyncRun.Kind.SOURCE)


def _cancelled(run: SyncRun) -> bool:
    """True (and the run ended as cancelled) when a person asked to cancel it."""
    if run.cancel_requested:
        _finish(run, Status.CANCELLED, f"Cancelled after {run.records_read:,} records.")
    return run.cancel_requested


def _errors_keep(run: SyncRun, errors: list[RecordError]) -> None:
    if not errors:
        return
    kept = SyncRunError.objects.filter(run_id=run.pk).count() if run.records_failed else 0
    room = max(0, settings.CDP_SYNC_ERRORS_KEPT - kept)
    SyncRunError.objects.bulk_create(
        [
            SyncRunError(run_id=run.pk, position=e.position[:200], reason=e.reason)
            for e in errors[:room]
        ]
    )
    run.errors_not_kept += max(0, len(errors) - room)


def _commit_batch(run_id: int, token: str, source: Source, batch: ReadBatch) -> bool:
    """Store one batch and everything the run learnt from it, in one transaction; False when
    the run was cancelled instead."""
    with transaction.atomic():
        run = run_locked(run_id, token)
        if _cancelled(run):
            return False
        result = source_records_store(source, batch.records)
        errors = [*batch.errors, *result.errors]
        _errors_keep(run, errors)
        run.records_read += len(batch.records) + len(batch.errors)
        run.records_stored += result.stored
        run.records_unchanged += result.unchanged
        run.records_failed += len(errors)
        if batch.total is not None:
            run.progress_total = batch.total
        run.progress_done = batch.done if batch.done is not None else run.records_read
        run.checkpoint = batch.checkpoint
        run.heartbeat_at = timezone.now()
        run.message = ""
        run.save()
        Source.objects.filter(pk=source.pk).update(checkpoint=batch.checkpoint)
    return True


def _finish(run: SyncRun, status: str, message: str) -> None:
    run.status = status
    run.message = message
    run.finished_at = timezone.now()
    run.claim_token = ""
    run.save(update_fields=["status", "message", "finished_at", "claim_token"])


def _end(run_id: int, token: str, status: str, message: str) -> None:
    with transaction.atomic():
        try:
            run = run_locked(run_id, token)
        except RunLostError:
            return
        if not _cancelled(run):
            _finish(run, status, message)


def _retry_note(run_id: int, token: str, message: str) -> None:
    with transaction.atomic():
        try:
            run = run_locked(run_id, token)
        except RunLostError:
            return
        SyncRun.objects.filter(pk=run.pk).update(
            retries=F("retries") + 1, message=message, heartbeat_at=timezone.now()
        )


def retry_delay(failures: int, retry_after: float | None) -> float:
    """Seconds before the next try: capped exponential backoff with jitter, at least what the
    source asked for (capped too)."""
    base = settings.CDP_SYNC_RETRY_BASE_SECONDS
    cap = settings.CDP_SYNC_RETRY_MAX_SECONDS
    backoff = min(cap, base * 2 ** (failures - 1))
    delay = random.uniform(backoff / 2, backoff)  # noqa: S311 (jitter, not security)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(cap, delay)


def _summary(run_id: int) -> str:
    run = SyncRun.objects.get(pk=run_id)
    text = (
        f"Read {run.records_read:,} records: {run.records_stored:,} stored, "
        f"{run.records_unchanged:,} unchanged, {run.records_failed:,} failed."
    )
    return text


def sync_run_execute(run_id: int) -> SyncRun | None:
    """Claim a queued run and run it to its end; None when another worker has it or it is not
    queued (a second delivery of the task does nothing)."""
    token = _claim(run_id)
    if token is None:
        return None
    run = SyncRun.objects.select_related("source").get(pk=run_id)
    source = run.source
    budget_end = time.monotonic() + settings.CDP_SYNC_TASK_BUDGET_SECONDS
    try:
        connector = source_connector(source)
        checkpoint = Source.objects.values_list("checkpoint", flat=True).get(pk=source.pk)
        failures = 0
        while True:
            try:
                batches = connector.read(checkpoint)
                if getattr(connector, "prefetch", False):
                    batches = Prefetched(batches)
                with closing(iter(batches)) as batches:
                    for batch in batches:
                        if not _commit_batch(run_id, token, source, batch):
                            return SyncRun.objects.get(pk=run_id)
                        checkpoint = batch.checkpoint
                        failures = 0
                        if time.monotonic() > budget_end:
                            # A run never outlives the task time limit: it goes back in the
                            # queue and the next task continues from this checkpoint.
                            with transaction.atomic():
                                _requeue(run_locked(run_id, token), "")
                            return SyncRun.objects.get(pk=run_id)
                break
            except TransientError as problem:
                failures += 1
                if failures > settings.CDP_SYNC_RETRY_ATTEMPTS:
                    _end(
                        run_id,
                        token,
                        Status.FAILED,
                        f"{problem.message} Gave up after {failures} tries; the next run "
                        "continues from the last stored batch.",
                    )
                    return SyncRun.objects.get(pk=run_id)
                delay = retry_delay(failures, problem.retry_after)
                _retry_note(run_id, token, f"{problem.message} Trying again in {delay:.0f} s.")
                time.sleep(delay)
        _end(run_id, token, Status.SUCCEEDED, _summary(run_id))
    except RunLostError:
        pass
    except TerminalError as problem:
        _end(run_id, token, Status.FAILED, problem.message)
    except InvalidInputError as problem:
        _end(run_id, token, Status.FAILED, problem.message)
    except Exception as problem:
        logger.exception("sync run failed", extra={"run_id": run_id, "source_id": source.pk})
        _end(
            run_id,
            token,
            Status.FAILED,
            f"The run stopped on an unexpected error ({type(problem).__name__}); "
            "the next run continues from the last stored batch.",
        )
    return SyncRun.objects.get(pk=run_id)
