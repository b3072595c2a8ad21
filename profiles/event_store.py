"""The set-based writer of the event store: one round of bulk inserts per batch, deduplicated.

Rows arrive already validated and shaped as tuples in `STORE_COLUMNS` order (JSON columns as
dicts, times as aware datetimes), so nothing here builds a model object per event. On PostgreSQL
the batch is one multi-row `INSERT ... SELECT ... FROM jsonb_array_elements(...)`, measured
faster than COPY into a staging table here, because it is one statement where COPY needs three
(create the staging table, copy, insert-select). The event table is partitioned by time there,
so the (source, message id) key lives in `EventMessage`: the same statement inserts the batch's
keys `ON CONFLICT DO NOTHING` and stores only the events whose key went in
(`cdp_site.db.rows_insert_once`). Elsewhere one `executemany` of `INSERT ... ON CONFLICT DO
NOTHING` against the event table's own unique constraint. Either way the same message id from
the same source is stored once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cdp_site import db

from .models import Event, EventMessage

# Order of the values in each row handed to `events_store`.
STORE_COLUMNS: tuple[str, ...] = (
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "group_id",
    "previous_id",
    "traits",
    "properties",
    "context",
    "integrations",
    "timestamp",
    "original_timestamp",
    "sent_at",
)


@dataclass(frozen=True)
class StoreResult:
    stored: int  # rows inserted now
    duplicates: int  # rows whose (source, message id) was already stored, or repeated in the batch


def events_store(*, source_id: int, rows: Sequence[tuple], received_at: datetime) -> StoreResult:
    """Insert `rows` for one source in one round of bulk inserts; skip known message ids.

    A message id repeated inside one batch is kept once, like a retry of an earlier batch. On
    PostgreSQL one statement, atomic on its own: outside a transaction it commits by itself,
    which spares the request the BEGIN and COMMIT round trips. Not a prepared statement: Django
    turns psycopg's off for connection poolers, and preparing this one saved only a few percent.
    """
    constants = {"source_id": source_id, "received_at": received_at}
    if db.on_postgresql():
        stored = db.rows_insert_once(
            Event, STORE_COLUMNS, rows, key_model=EventMessage, constants=constants
        )
    else:
        stored = db.rows_insert(
            Event,
            STORE_COLUMNS,
            rows,
            constants=constants,
            skip_conflicts=("source_id", "message_id"),
        )
    return StoreResult(stored=stored, duplicates=len(rows) - stored)
