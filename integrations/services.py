"""Writes of the integrations app: creating, switching and deleting sources, replaying the
quarantine."""

import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from cdp_site.errors import InUseError
from profiles.event_store import events_store
from profiles.selectors import source_has_events

from .models import QuarantinedMessage, Source
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


def source_create(*, name: str, created_by=None) -> Source:
    """A new tracking API source with a fresh write key; its creator may manage it."""
    with transaction.atomic():
        source = Source.objects.create(
            name=name.strip(), kind=Source.Kind.TRACKING_API, created_by=created_by
        )
        if created_by is not None:
            for perm in SOURCE_OWNER_PERMISSIONS:
                assign_perm(perm, created_by, source)
    return source


def source_enabled_set(*, source: Source, enabled: bool) -> Source:
    """Accept or refuse the source's traffic (a disabled source answers 403 to its SDKs)."""
    Source.objects.filter(pk=source.pk).update(enabled=enabled)
    source.enabled = enabled
    if source.schedule_task_id:
        # A disabled source's schedule pauses with it.
        type(source.schedule_task).objects.filter(pk=source.schedule_task_id).update(
            enabled=enabled
        )
    transaction.on_commit(write_key_cache_clear)
    write_key_cache_clear()
    return source


def source_delete_check(*, source: Source) -> None:
    """Refuse (`InUseError`) to delete a source that has events.

    Events keep a plain source id with no foreign key, so nothing in the database stops the
    delete: this check does, and the events keep their source's name. Disable a source instead.
    """
    if source_has_events(source_id=source.pk):
        raise InUseError(
            f"Source “{source.name}” has events and cannot be deleted; disable it instead."
        )


def source_delete(*, source: Source) -> None:
    """Delete a source that has no events, with its quarantine (`InUseError` if it has events)."""
    with transaction.atomic():
        source_delete_check(source=source)
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
        if result.stored:
            transaction.on_commit(resolve_task_queue)
    return ReplayResult(
        stored=result.stored, duplicates=result.duplicates, still_invalid=len(failed)
    )
