"""Writes of the integrations app: creating, switching, re-keying and deleting sources,
replaying and discarding the quarantine. Each change a person makes is recorded in the audit log
by the service that makes it."""

import json
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from cdp_site.audit import AuditAction, audit_record
from cdp_site.errors import ConflictError, InUseError, InvalidInputError
from profiles.event_store import events_store
from profiles.selectors import source_has_events

from .models import QuarantinedMessage, Source, generate_write_key
from .selectors import write_key_cache_clear
from .tracking.ingest import (
    InvalidMessageError,
    batch_fields_check,
    message_row,
    resolve_task_queue,
    suppressed_drop,
    timestamp_parse,
)

SOURCE_OWNER_PERMISSIONS = (
    "integrations.view_source",
    "integrations.change_source",
    "integrations.delete_source",
)

# How long the key a rotation replaced keeps working, as people may choose it (hours).
KEY_GRACE_CHOICES = {0: "Stop it now", 1: "1 hour", 24: "24 hours", 168: "7 days"}
KEY_GRACE_DEFAULT_HOURS = 24


def source_audit(*, user, action: AuditAction, source: Source, **detail) -> None:
    """Record a change to a source in the audit log (inside the caller's transaction)."""
    audit_record(
        user=user,
        action=action,
        detail={"source": source.pk, "source_name": source.name, **detail},
        sender=Source,
    )


def source_create(*, name: str, created_by=None) -> Source:
    """A new tracking API source with a fresh write key; its creator may manage it."""
    with transaction.atomic():
        source = Source.objects.create(
            name=name.strip(), kind=Source.Kind.TRACKING_API, created_by=created_by
        )
        if created_by is not None:
            for perm in SOURCE_OWNER_PERMISSIONS:
                assign_perm(perm, created_by, source)
        source_audit(
            user=created_by, action=AuditAction.SOURCE_CREATE, source=source, kind=source.kind
        )
    return source


def source_enabled_set(*, source: Source, enabled: bool, user=None) -> Source:
    """Accept or refuse the source's traffic (a disabled source answers 403 to its SDKs)."""
    with transaction.atomic():
        changed = (
            Source.objects.filter(pk=source.pk).exclude(enabled=enabled).update(enabled=enabled)
        )
        source.enabled = enabled
        if source.schedule_task_id:
            # A disabled source's schedule pauses with it.
            type(source.schedule_task).objects.filter(pk=source.schedule_task_id).update(
                enabled=enabled
            )
        if changed:
            source_audit(
                user=user,
                action=AuditAction.SOURCE_ENABLE if enabled else AuditAction.SOURCE_DISABLE,
                source=source,
            )
        transaction.on_commit(write_key_cache_clear)
    write_key_cache_clear()
    return source


def source_key_rotate(*, source: Source, user, grace_hours: int) -> Source:
    """Give a tracking source a new write key; the old one keeps working for `grace_hours`
    (0: it stops at once, and so does any key still in an earlier grace period)."""
    if not source.is_tracking:
        raise InvalidInputError(
            "Only tracking API sources have a write key to rotate.", field="grace_hours"
        )
    if grace_hours not in KEY_GRACE_CHOICES:
        choices = ", ".join(str(hours) for hours in KEY_GRACE_CHOICES)
        raise InvalidInputError(f"The grace period is one of {choices} hours.", field="grace_hours")
    now = timezone.now()
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        locked.previous_write_key = locked.write_key if grace_hours else ""
        locked.previous_key_expires_at = now + timedelta(hours=grace_hours) if grace_hours else None
        locked.write_key = generate_write_key()
        locked.key_rotated_at = now
        locked.save(
            update_fields=[
                "write_key",
                "previous_write_key",
                "previous_key_expires_at",
                "key_rotated_at",
            ]
        )
        # The keys themselves are secrets: the log says that and when, never which.
        source_audit(
            user=user,
            action=AuditAction.SOURCE_KEY_ROTATE,
            source=locked,
            grace_hours=grace_hours,
            previous_key_valid_until=(
                locked.previous_key_expires_at.isoformat()
                if locked.previous_key_expires_at
                else None
            ),
        )
        transaction.on_commit(write_key_cache_clear)
    write_key_cache_clear()
    return locked


def source_delete_check(*, source: Source) -> None:
    """Refuse (`InUseError`) to delete a source that has events.

    Events keep a plain source id with no foreign key, so nothing in the database stops the
    delete: this check does, and the events keep their source's name. Disable a source instead.
    """
    if source_has_events(source_id=source.pk):
        raise InUseError(
            f"Source “{source.name}” has events and cannot be deleted; disable it instead."
        )


def source_delete(*, source: Source, user=None) -> None:
    """Delete a source that has no events, with its quarantine (`InUseError` if it has events)."""
    with transaction.atomic():
        source_delete_check(source=source)
        source_audit(user=user, action=AuditAction.SOURCE_DELETE, source=source, kind=source.kind)
        if source.schedule_task_id:
            # Its beat entry goes with it (the relation only nulls itself the other way round).
            source.schedule_task.delete()
        source.delete()
        transaction.on_commit(write_key_cache_clear)


@dataclass(frozen=True)
class ReplayResult:
    stored: int
    duplicates: int
    still_invalid: int


def _loads(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _object_or_none(value):
    return value if isinstance(value, dict) else None


def quarantine_replay(*, source: Source, user, entry_ids: list[int] | None = None) -> ReplayResult:
    """Try the waiting quarantined messages of a source again, as they were first received.

    Those now valid are stored (deduplicated as ever) and marked replayed; the others stay, with
    the reason they fail today. One identity-resolution task is queued if anything was stored.
    """
    now = timezone.now()
    with transaction.atomic():
        entries = QuarantinedMessage.objects.select_for_update().filter(
            source=source, status=QuarantinedMessage.Status.PENDING
        )
        if entry_ids is not None:
            entries = entries.filter(pk__in=entry_ids)
        rows, replayed, failed = [], [], []
        for entry in entries:
            # Batch fields that were not objects are left out: they were the reason, and the
            # message itself may be fine.
            batch_context = _object_or_none(_loads(entry.batch_context))
            batch_integrations = _object_or_none(_loads(entry.batch_integrations))
            try:
                rows.append(
                    message_row(
                        _loads(entry.payload),
                        batch_context=batch_context,
                        batch_integrations=batch_integrations,
                        sent_at=timestamp_parse(entry.sent_at or None, "sentAt"),
                        received_at=entry.received_at,
                        batch_bytes=batch_fields_check(batch_context, batch_integrations),
                    )
                )
                entry.status = QuarantinedMessage.Status.REPLAYED
                entry.replayed_at = now
                entry.replayed_by = user
                replayed.append(entry)
            except InvalidMessageError as problem:
                entry.code, entry.reason = problem.code, problem.message
                failed.append(entry)
        # A suppressed (erased) person's messages are dropped and counted, as at the API.
        suppressed = suppressed_drop(source, rows, now)
        if suppressed:
            rows = [row for index, row in enumerate(rows) if index not in suppressed]
        result = events_store(source_id=source.pk, rows=rows, received_at=now)
        QuarantinedMessage.objects.bulk_update(replayed, ["status", "replayed_at", "replayed_by"])
        QuarantinedMessage.objects.bulk_update(failed, ["code", "reason"])
        if replayed or failed:
            source_audit(
                user=user,
                action=AuditAction.QUARANTINE_REPLAY,
                source=source,
                messages=[entry.pk for entry in replayed + failed][:100],
                stored=result.stored,
                duplicates=result.duplicates,
                still_invalid=len(failed),
            )
        if result.stored:
            transaction.on_commit(resolve_task_queue)
    return ReplayResult(
        stored=result.stored, duplicates=result.duplicates, still_invalid=len(failed)
    )


def quarantine_discard(*, source: Source, user, entry_id: int) -> QuarantinedMessage:
    """Give up on one waiting quarantined message: it is kept, marked discarded, and leaves the
    waiting list. The payload is not copied into the audit log (it may hold personal data)."""
    now = timezone.now()
    with transaction.atomic():
        entry = (
            QuarantinedMessage.objects.select_for_update()
            .filter(source=source, pk=entry_id)
            .first()
        )
        if entry is None:
            raise InvalidInputError("No such quarantined message.", field="entry")
        if entry.status != QuarantinedMessage.Status.PENDING:
            raise ConflictError(
                f"This message was already {entry.get_status_display().lower()}.",
                code="quarantine_handled",
            )
        entry.status = QuarantinedMessage.Status.DISCARDED
        entry.discarded_at = now
        entry.discarded_by = user
        entry.save(update_fields=["status", "discarded_at", "discarded_by"])
        source_audit(
            user=user,
            action=AuditAction.QUARANTINE_DISCARD,
            source=source,
            message=entry.pk,
            code=entry.code,
            reason=entry.reason[:500],
        )
    return entry
