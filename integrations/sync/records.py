"""Records of a source stored as events, through the tracking API's validation and event store.

Each record's messageId is derived from (source, record id, version): the same version of a
record stored twice (a second run, a resumed run) is stored once and counted unchanged; a new
version is a new event. Invalid messages come back as `RecordError`s for the run's error table,
not as quarantine rows: the run is where a person looks for them. Records of a suppressed (erased)
person are dropped and counted per source, as the tracking API drops them.
"""

import hashlib
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from integrations.connectors.base import RecordError, SourceRecord
from integrations.models import Source
from integrations.tracking.ingest import (
    InvalidMessageError,
    message_row,
    resolve_task_queue,
    suppressed_drop,
)
from profiles.event_store import events_store


@dataclass(frozen=True)
class RecordsStored:
    stored: int
    unchanged: int
    errors: list[RecordError] = field(default_factory=list)


def record_message_id(source_id: int, record_id: str, version: str) -> str:
    """The messageId of one version of a source's record: stable across runs and processes."""
    digest = hashlib.sha256(f"{source_id}\x1f{record_id}\x1f{version}".encode()).hexdigest()
    return f"src-{source_id}-{digest[:40]}"


def source_records_store(source: Source, records: list[SourceRecord]) -> RecordsStored:
    """Validate and store one batch of records in one bulk insert; identity resolution is queued
    after commit when anything new was stored."""
    received_at = timezone.now()
    rows: list[tuple] = []
    errors: list[RecordError] = []
    for record in records:
        message = {
            **record.message,
            "messageId": record_message_id(source.pk, record.record_id, record.version),
        }
        try:
            rows.append(
                message_row(
                    message,
                    batch_context=None,
                    batch_integrations=None,
                    sent_at=None,
                    received_at=received_at,
                )
            )
        except InvalidMessageError as problem:
            errors.append(RecordError(position=record.record_id, reason=problem.message))
    suppressed = suppressed_drop(source, rows, received_at)
    if suppressed:
        rows = [row for index, row in enumerate(rows) if index not in suppressed]
    result = events_store(source_id=source.pk, rows=rows, received_at=received_at)
    if result.stored:
        transaction.on_commit(resolve_task_queue)
    return RecordsStored(stored=result.stored, unchanged=result.duplicates, errors=errors)
