"""Audience sync runs: start one, deliver its difference batch by batch, resume it after a lost
worker, pause a destination that keeps failing.

A run is a `SyncRun` of kind "audience". When it is first claimed, its difference is written as
numbered batches (`plan.plan_build`) in the transaction that records the plan in its checkpoint.
Then, for each batch from the checkpoint on: the batch is delivered (retried on transient errors
with capped backoff and jitter; records the destination still refuses go to the dead-letter
list), and in ONE transaction what the destination now holds (`AudienceSyncMember`), the counts,
the dead letters and the next batch number are committed. A worker killed between the delivery
and that commit leaves the batch to be delivered again by the resumed run, under the same batch
id: an idempotent destination takes each record once.

Each destination is delivered on its own: a run holds its destination's lease (renewed with each
batch) while it delivers, so two runs never write to one destination at once, and a run whose
destination hangs holds nothing any other destination needs. A destination whose runs fail
`CDP_DESTINATION_PAUSE_AFTER` times in a row is paused with the reason, until an admin resumes it.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from cdp_site import db
from cdp_site.errors import ConflictError, InvalidInputError
from segments.selectors import segment_names_by_id

from ..connectors.base import (
    Connector,
    DeliveryBatch,
    RecordFailure,
    TerminalError,
    TransientError,
)
from ..connectors.registry import connector_class
from ..models import (
    AudiencePlanEntry,
    AudienceSync,
    AudienceSyncMember,
    DeadLetter,
    Destination,
    SyncRun,
)
from ..secrets import secrets_decrypt
from ..sync.claims import RunLostError, run_claim, run_locked
from ..sync.runner import retry_delay, run_cancel_with, run_is_stale
from .plan import plan_build
from .realtime import realtime_followup
from .records import audience_records

logger = logging.getLogger("cdp.activation")

Status = SyncRun.Status
Action = AudiencePlanEntry.Action


def destination_connector(destination: Destination) -> Connector:
    """The destination's connector, with its settings and decrypted secrets."""
    cls = connector_class(destination.kind, kind="destination")
    return cls(
        config=dict(destination.config), secrets=secrets_decrypt(destination.secrets_encrypted)
    )


def _publish(run_id: int) -> None:
    from cdp_site.celery import task_publish

    from .tasks import audience_sync_run_task

    task_publish(audience_sync_run_task, run_id)


def audience_sync_run_start(*, sync: AudienceSync, trigger: str, user=None) -> SyncRun:
    """Queue a run of an audience sync; ConflictError while the destination is paused, the sync
    is switched off, or another run of it is active (one that lost its worker is resumed)."""
    destination = sync.destination
    if destination.paused:
        raise ConflictError(
            f"Destination “{destination.name}” is paused: {destination.paused_reason} "
            "An integration admin resumes it once the cause is fixed.",
            code="destination_paused",
        )
    if not sync.enabled:
        raise ConflictError("This audience sync is switched off.", code="sync_disabled")
    with transaction.atomic():
        active = (
            SyncRun.objects.select_for_update()
            .filter(audience_sync=sync, status__in=SyncRun.ACTIVE)
            .first()
        )
        if active is not None:
            if run_is_stale(active) and _requeue(active, "Resumed: the worker running it stopped."):
                active.refresh_from_db()
                return active
            raise ConflictError(
                f"Run {active.pk} of this audience sync is "
                f"{active.get_status_display().lower()}: wait for it to end or cancel it.",
                code="run_active",
            )
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    kind=SyncRun.Kind.AUDIENCE,
                    audience_sync=sync,
                    trigger=trigger,
                    requested_by=user,
                )
        except IntegrityError:
            raise ConflictError(
                "Another run of this audience sync has just started.", code="run_active"
            ) from None
        transaction.on_commit(lambda: _publish(run.pk))
    return run


def audience_run_cancel(run: SyncRun) -> SyncRun:
    """Cancel a queued audience run (or one whose worker is gone) at once, freeing its
    destination; a running one after its current batch (what was delivered stays recorded)."""
    return run_cancel_with(run, _cancelled)


def _cancelled(run: SyncRun) -> None:
    _finish(run, Status.CANCELLED, f"Cancelled after {run.records_stored:,} records sent.")


def _requeue(run: SyncRun, message: str) -> bool:
    requeued = SyncRun.objects.filter(
        pk=run.pk, status=run.status, claim_token=run.claim_token
    ).update(status=Status.QUEUED, resumes=F("resumes") + 1, claim_token="", message=message)
    if requeued:
        transaction.on_commit(lambda: _publish(run.pk))
    return bool(requeued)


# -- execution -------------------------------------------------------------------------------


class DestinationBusyError(Exception):
    """Another run holds the destination's lease: this one waits its turn in the queue."""


def _claim(run_id: int) -> str | None:
    return run_claim(run_id, SyncRun.Kind.AUDIENCE)


def _locked_run(run_id: int, token: str) -> SyncRun:
    """The run, locked for this transaction, as this worker still holds it; a cancel asked for
    by a person ends it here (RunLostError)."""
    run = run_locked(run_id, token)
    if run.cancel_requested:
        _cancelled(run)
        raise RunLostError
    return run


def _finish(run: SyncRun, status: str, message: str) -> None:
    run.status = status
    run.message = message
    run.finished_at = timezone.now()
    run.claim_token = ""
    run.save(update_fields=["status", "message", "finished_at", "claim_token"])
    AudiencePlanEntry.objects.filter(run_id=run.pk).delete()
    Destination.objects.filter(lease_run_id=run.pk).update(lease_run=None, lease_until=None)


def _lease(destination_id: int, run_id: int) -> bool:
    """Take or renew the destination's delivery lease for this run."""
    now = timezone.now()
    return bool(
        Destination.objects.filter(pk=destination_id)
        .filter(Q(lease_run__isnull=True) | Q(lease_run_id=run_id) | Q(lease_until__lt=now))
        .update(
            lease_run_id=run_id,
            lease_until=now + timedelta(seconds=settings.CDP_DESTINATION_LEASE_SECONDS),
        )
    )


@dataclass
class _Delivered:
    """What a batch came to: the dead letters (profile id, action, reason, attempts)."""

    dead: list[tuple[int, str, str, int]] = field(default_factory=list)
    retries: int = 0


def _deliver(connector: Connector, batch: DeliveryBatch, note) -> _Delivered:
    """Deliver one batch, retrying what failed transiently; raises TransientError (given up)
    or TerminalError for a request the destination refuses as a whole."""
    outcome = _Delivered()
    actions = {r.profile_id: Action.ENTER for r in batch.entered} | {
        r.profile_id: Action.EXIT for r in batch.exited
    }
    attempt, current, failures_in_row = 0, batch, 0
    while True:
        attempt += 1
        try:
            result = connector.deliver(current)
        except TransientError as problem:
            failures_in_row += 1
            if failures_in_row > settings.CDP_SYNC_RETRY_ATTEMPTS:
                raise
            delay = retry_delay(failures_in_row, problem.retry_after)
            outcome.retries += 1
            note(f"{problem.message} Trying again in {delay:.0f} s.")
            time.sleep(delay)
            continue
        failures_in_row = 0
        transient: list[RecordFailure] = []
        for failure in result.failures:
            if failure.profile_id not in actions:
                continue
            if failure.transient and attempt <= settings.CDP_SYNC_RETRY_ATTEMPTS:
                transient.append(failure)
            else:
                outcome.dead.append(
                    (failure.profile_id, actions[failure.profile_id], failure.reason, attempt)
                )
        if not transient:
            return outcome
        again = {f.profile_id for f in transient}
        # A stable id for the retry too: a resumed run that repeats it is recognised.
        current = DeliveryBatch(
            batch_id=f"{batch.batch_id}-retry{attempt}",
            audience_key=batch.audience_key,
            audience_name=batch.audience_name,
            entered=[r for r in current.entered if r.profile_id in again],
            exited=[r for r in current.exited if r.profile_id in again],
        )
        outcome.retries += 1
        time.sleep(retry_delay(attempt, None))


def _commit_batch(
    run_id: int, token: str, sync: AudienceSync, number: int, outcome: _Delivered, sent: int
) -> None:
    """What the destination now holds, the dead letters, the counts and the next batch number:
    one transaction."""
    now = timezone.now()
    with transaction.atomic():
        run = _locked_run(run_id, token)
        failed = sorted({profile_id for profile_id, *_ in outcome.dead})
        # What is held is as of the plan (its hashes were computed then), less a margin for
        # writes whose transaction had not committed when the plan read the profiles: a profile
        # changed after that is hashed again by the next run.
        as_of = datetime.fromisoformat(run.checkpoint["planned_at"]) - timedelta(
            seconds=settings.CDP_AUDIENCE_CHANGE_MARGIN_SECONDS
        )
        _held_update(sync.pk, run_id, number, failed, as_of)
        DeadLetter.objects.bulk_create(
            [
                DeadLetter(
                    destination_id=sync.destination_id,
                    sync_id=sync.pk,
                    run_id=run_id,
                    profile_id=profile_id,
                    action=action,
                    reason=reason[:2000],
                    attempts=attempts,
                )
                for profile_id, action, reason, attempts in outcome.dead
            ]
        )
        delivered = sent - len(failed)
        run.records_stored += delivered
        run.records_failed += len(failed)
        run.retries += outcome.retries
        run.progress_done = (run.progress_done or 0) + sent
        run.checkpoint = {**run.checkpoint, "next_batch": number + 1}
        run.heartbeat_at = now
        run.message = ""
        run.save()
        Destination.objects.filter(pk=sync.destination_id).update(
            last_delivery_at=now,
            records_delivered=F("records_delivered") + delivered,
            records_failed=F("records_failed") + len(failed),
        )
        if not _lease(sync.destination_id, run_id):
            raise RunLostError


def _held_update(sync_id: int, run_id: int, number: int, failed: list[int], now) -> None:
    """Entered records delivered are now held with their hash; exited ones no longer are."""
    quote = connection.ops.quote_name
    held = quote(AudienceSyncMember._meta.db_table)
    plan = quote(AudiencePlanEntry._meta.db_table)
    skip, skip_params = "", []
    if failed:
        skip = f" AND profile_id NOT IN ({', '.join(['%s'] * len(failed))})"
        skip_params = failed
    when = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        # Our own tables; values as parameters.
        cursor.execute(
            f"INSERT INTO {held} (sync_id, profile_id, hash, sent_at) "  # noqa: S608
            f"SELECT %s, profile_id, hash, %s FROM {plan} "
            f"WHERE run_id = %s AND batch = %s AND action = 'e'{skip} "
            "ON CONFLICT (sync_id, profile_id) DO UPDATE "
            "SET hash = excluded.hash, sent_at = excluded.sent_at",
            [sync_id, when, run_id, number, *skip_params],
        )
        cursor.execute(
            f"DELETE FROM {held} WHERE sync_id = %s AND profile_id IN ("  # noqa: S608
            f"SELECT profile_id FROM {plan} WHERE run_id = %s AND batch = %s "
            f"AND action = 'x'{skip})",
            [sync_id, run_id, number, *skip_params],
        )


def _plan(run_id: int, token: str, sync: AudienceSync, batch_size: int) -> dict:
    """The run's checkpoint, with its plan written the first time it is claimed."""
    with transaction.atomic():
        run = _locked_run(run_id, token)
        if run.checkpoint.get("planned"):
            return run.checkpoint
        AudiencePlanEntry.objects.filter(run_id=run_id).delete()
        planned_at = timezone.now()
        # Set-based over the whole audience: the session settings of heavy queries (no JIT,
        # more work_mem, so the hashes stay in memory).
        with db.heavy_query_transaction():
            plan = plan_build(sync=sync, run_id=run_id, batch_size=batch_size)
        run.checkpoint = {
            "planned": True,
            "planned_at": planned_at.isoformat(),
            "batches": plan.batches,
            "next_batch": 0,
        }
        run.records_read = plan.entered + plan.exited
        run.records_entered = plan.entered
        run.records_exited = plan.exited
        run.records_left_out = sum(plan.left_out.values())
        run.left_out_reasons = plan.left_out
        run.progress_total = plan.entered + plan.exited
        run.progress_done = 0
        run.heartbeat_at = timezone.now()
        run.save()
        return run.checkpoint


def _batch_records(run_id: int, number: int, sync: AudienceSync):
    rows = list(
        AudiencePlanEntry.objects.filter(run_id=run_id, batch=number)
        .order_by("action", "profile_id")
        .values_list("action", "profile_id")
    )
    ids = AudiencePlanEntry.objects.filter(run_id=run_id, batch=number).values("profile_id")
    records = {
        r.profile_id: r
        for r in audience_records([p for _, p in rows], sync.field_mapping, id_query=ids)
    }
    entered = [records[p] for a, p in rows if a == Action.ENTER]
    exited = [records[p] for a, p in rows if a == Action.EXIT]
    return entered, exited


def _batches(run_id: int, sync: AudienceSync, first: int, end: int):
    """(number, entered, exited) of each batch from `first` on; on PostgreSQL, outside a
    transaction, the next batch's records are read (on a connection of their own) while the
    current one is delivered, since delivering is mostly waiting for the destination."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        for number in range(first, end):
            yield number, *_batch_records(run_id, number, sync)
        return

    def read(number: int):
        try:
            return _batch_records(run_id, number, sync)
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = pool.submit(read, first) if first < end else None
        for number in range(first, end):
            entered, exited = upcoming.result()
            if number + 1 < end:
                upcoming = pool.submit(read, number + 1)
            yield number, entered, exited


def run_summary(run: SyncRun) -> str:
    """“1,204 sent, 37 left out: no consent for Advertising”, and what else happened."""
    parts = [f"{run.records_stored:,} sent"]
    if run.records_entered or run.records_exited:
        parts[0] += f" ({run.records_entered:,} added or updated, {run.records_exited:,} removed)"
    if run.records_failed:
        parts.append(f"{run.records_failed:,} failed (see the dead letters)")
    if run.records_left_out:
        # Largest first: a JSON column does not keep the order the reasons were counted in.
        counted = sorted(run.left_out_reasons.items(), key=lambda item: (-item[1], item[0]))
        reasons = ", ".join(f"{n:,} {reason}" for reason, n in counted)
        parts.append(f"{run.records_left_out:,} left out: {reasons}")
    return ", ".join(parts) + "."


def _failed(run_id: int, token: str, destination_id: int, message: str) -> None:
    """End the run as failed; the destination's failure count grows, and pauses it at the
    threshold."""
    with transaction.atomic():
        try:
            run = _locked_run(run_id, token)
        except RunLostError:
            return
        _finish(run, Status.FAILED, message)
        destination = Destination.objects.select_for_update().get(pk=destination_id)
        destination.consecutive_failures += 1
        fields = ["consecutive_failures"]
        if (
            destination.consecutive_failures >= settings.CDP_DESTINATION_PAUSE_AFTER
            and not destination.paused
        ):
            destination.paused = True
            destination.paused_at = timezone.now()
            destination.paused_reason = (
                f"{destination.consecutive_failures} runs in a row failed; the last said: {message}"
            )
            fields += ["paused", "paused_at", "paused_reason"]
            logger.warning("destination paused", extra={"destination_id": destination_id})
        destination.save(update_fields=fields)


def audience_sync_run_execute(run_id: int) -> SyncRun | None:
    """Claim a queued audience run and deliver it to its end; None when it is not queued or
    another worker has it. `DestinationBusyError` when another run holds the destination: the run is
    back in the queue, and the task tries it again a little later."""
    token = _claim(run_id)
    if token is None:
        return None
    run = SyncRun.objects.select_related("audience_sync__destination").get(pk=run_id)
    sync = run.audience_sync
    destination = sync.destination
    if not _lease(destination.pk, run_id):
        with transaction.atomic():
            SyncRun.objects.filter(pk=run_id, claim_token=token).update(
                status=Status.QUEUED,
                claim_token="",
                message="Waiting: another run is delivering to this destination.",
            )
        raise DestinationBusyError
    try:
        connector = destination_connector(destination)
        batch_size = max(1, min(connector.max_batch, settings.CDP_AUDIENCE_BATCH_SIZE))
        checkpoint = _plan(run_id, token, sync, batch_size)
        name = segment_names_by_id([sync.segment_id]).get(sync.segment_id, "")

        def note(message: str) -> None:
            SyncRun.objects.filter(pk=run_id, claim_token=token).update(
                message=message, heartbeat_at=timezone.now()
            )

        for number, entered, exited in _batches(
            run_id, sync, checkpoint["next_batch"], checkpoint["batches"]
        ):
            batch = DeliveryBatch(
                batch_id=f"{sync.audience_key}-run{run_id}-batch{number}",
                audience_key=sync.audience_key,
                audience_name=name,
                entered=entered,
                exited=exited,
            )
            outcome = _deliver(connector, batch, note)
            _commit_batch(run_id, token, sync, number, outcome, len(entered) + len(exited))
        with transaction.atomic():
            run = _locked_run(run_id, token)
            _finish(run, Status.SUCCEEDED, run_summary(run))
            Destination.objects.filter(pk=destination.pk).update(consecutive_failures=0)
    except RunLostError:
        Destination.objects.filter(pk=destination.pk, lease_run_id=run_id).update(
            lease_run=None, lease_until=None
        )
    except TransientError as problem:
        _failed(
            run_id,
            token,
            destination.pk,
            f"{problem.message} Gave up after {settings.CDP_SYNC_RETRY_ATTEMPTS + 1} tries; "
            "the next run sends what this one did not.",
        )
    except (TerminalError, InvalidInputError) as problem:
        _failed(run_id, token, destination.pk, problem.message)
    except Exception as problem:
        logger.exception("audience sync run failed", extra={"run_id": run_id})
        _failed(
            run_id,
            token,
            destination.pk,
            f"The run stopped on an unexpected error ({type(problem).__name__}); "
            "the next run sends what this one did not.",
        )
    realtime_followup(sync.pk)
    return SyncRun.objects.get(pk=run_id)
