"""The set-based writer of the event store: one round of bulk inserts per batch, deduplicated.

Rows arrive already validated and shaped as tuples in `STORE_COLUMNS` order, with the JSON
columns as JSON text, so nothing here builds a model object per event. On PostgreSQL the rows are
COPYed into a per-connection temporary table and moved with one `INSERT ... SELECT ... ON CONFLICT
(source_id, message_id) DO NOTHING`; elsewhere one `executemany` of `INSERT ... ON CONFLICT DO
NOTHING`. Either way the same message id from the same source is stored once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from .models import Event

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
JSON_COLUMNS = frozenset({"traits", "properties", "context", "integrations"})

_TABLE = Event._meta.db_table
_STAGE = "event_ingest_stage"
_ALL_COLUMNS = (*STORE_COLUMNS, "source_id", "received_at")


@dataclass(frozen=True)
class StoreResult:
    stored: int  # rows inserted now
    duplicates: int  # rows whose (source, message id) was already stored, or repeated in the batch


def events_store(*, source_id: int, rows: Sequence[tuple], received_at: datetime) -> StoreResult:
    """Insert `rows` for one source in one round of bulk inserts; skip known message ids."""
    if not rows:
        return StoreResult(stored=0, duplicates=0)
    # No savepoint: the caller's transaction (if any) is all the atomicity a batch needs.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            stored = _store_postgresql(source_id, rows, received_at)
        else:
            stored = _store_generic(source_id, rows, received_at)
    return StoreResult(stored=stored, duplicates=len(rows) - stored)


def _pg_column_type(column: str) -> str:
    if column == "source_id":
        return "bigint"
    if column in JSON_COLUMNS:
        return "jsonb"
    return Event._meta.get_field(column).db_type(connection)


def _ensure_stage(cursor) -> None:
    # Asked on every batch: a rolled-back transaction also rolls back the table's creation, so
    # remembering it per connection would be wrong after any failed batch.
    columns = ", ".join(f'"{c}" {_pg_column_type(c)}' for c in _ALL_COLUMNS)
    # ON COMMIT DELETE ROWS: the table is empty again when each batch's transaction ends.
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ({columns}) ON COMMIT DELETE ROWS"
    )


def _store_postgresql(source_id: int, rows: Sequence[tuple], received_at: datetime) -> int:
    column_list = ", ".join(f'"{c}"' for c in _ALL_COLUMNS)
    with connection.cursor() as cursor:
        _ensure_stage(cursor)
        raw_cursor = cursor.cursor
        with raw_cursor.copy(f"COPY {_STAGE} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, source_id, received_at))
        # The staged rows go over in arrival order; a message id repeated inside one batch is
        # kept once, like a retry of an earlier batch.
        cursor.execute(
            f"INSERT INTO {_TABLE} ({column_list}) "  # noqa: S608 (only constant names)
            f"SELECT {column_list} FROM {_STAGE} "
            f'ON CONFLICT ("source_id", "message_id") DO NOTHING'
        )
        return cursor.rowcount


def _store_generic(source_id: int, rows: Sequence[tuple], received_at: datetime) -> int:
    column_list = ", ".join(f'"{c}"' for c in _ALL_COLUMNS)
    placeholders = ", ".join(["%s"] * len(_ALL_COLUMNS))
    ops = connection.ops
    params = [
        (
            *row[:12],
            ops.adapt_datetimefield_value(row[12]),
            ops.adapt_datetimefield_value(row[13]),
            ops.adapt_datetimefield_value(row[14]),
            source_id,
            ops.adapt_datetimefield_value(received_at),
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {_TABLE} ({column_list}) VALUES ({placeholders}) "  # noqa: S608
            f'ON CONFLICT ("source_id", "message_id") DO NOTHING',
            params,
        )
        return cursor.rowcount
