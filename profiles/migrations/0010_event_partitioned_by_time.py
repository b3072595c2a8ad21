"""Partition the event table by month of `timestamp` on PostgreSQL; deduplicate in `EventMessage`.

The partitioned table is derived from the table as it stands, not from a list written here:
`LIKE ... INCLUDING ALL` takes its columns, defaults and checks, and its indexes are re-created
from their own definitions, so columns or indexes another migration added before this one come
along. What cannot come along is refused with a message rather than lost: a foreign key into the
table, a trigger, a unique index without the partition key (but the (source, message id) one,
which `EventMessage` replaces). The primary key becomes (id, timestamp), as PostgreSQL requires;
ids still come from one sequence, so they stay unique.

Existing rows are copied into monthly partitions covering their months (ten years back at most)
up to `AHEAD_MONTHS` ahead, and a default partition; a large table takes minutes (10,000,000
events: see the README). SQLite keeps its plain table and its unique constraint.
"""

import datetime as dt

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

TABLE = "profiles_event"
OLD = "profiles_event_unpartitioned"
KEYS = "profiles_eventmessage"
SEQUENCE = "profiles_event_id_seq"
DEDUPLICATION_INDEX = "event_source_message_unique"
AHEAD_MONTHS = 3
OLDEST_YEARS = 10


def _month(at: dt.datetime) -> dt.date:
    return dt.date(at.year, at.month, 1)


def _next(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _fetch(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def _is_partitioned(cursor) -> bool:
    rows = _fetch(cursor, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
    return rows[0][0] == "p"


def _index_definitions(cursor, table: str) -> tuple[str, list[str]]:
    """(name of the primary key, CREATE INDEX statements of every other index of `table`)."""
    rows = _fetch(
        cursor,
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary, i.indisunique "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) ORDER BY c.relname",
        [table],
    )
    primary, statements = "", []
    for name, definition, is_primary, is_unique in rows:
        if is_primary:
            primary = name
        elif name == DEDUPLICATION_INDEX:
            continue
        elif is_unique and '"timestamp"' not in definition:
            raise RuntimeError(
                f"{table}: unique index {name} lacks the partition key (timestamp); "
                "a partitioned table cannot keep it. Add the key, or move the check elsewhere."
            )
        else:
            # A partitioned table's own index reads "ON ONLY": re-created whole, with children.
            statements.append(definition.replace(" ON ONLY ", " ON "))
    return primary, statements


def _refuse_dependants(cursor, table: str) -> None:
    keys = _fetch(cursor, "SELECT conname FROM pg_constraint WHERE confrelid = to_regclass(%s)", [table])
    triggers = _fetch(
        cursor,
        "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal",
        [table],
    )
    if keys or triggers:
        raise RuntimeError(
            f"{table} cannot be rebuilt while these depend on it: "
            f"{', '.join(name for (name,) in keys + triggers)}"
        )


def _sequence_take(cursor, table: str) -> tuple[int, bool]:
    """Detach the id sequence (identity or serial) of `table`; return its position."""
    (sequence,) = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [table])[0]
    position = _fetch(cursor, f"SELECT last_value, is_called FROM {sequence}")[0]  # noqa: S608
    (identity,) = _fetch(
        cursor,
        "SELECT attidentity FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'id'",
        [table],
    )[0]
    if identity:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP IDENTITY")
    else:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"DROP SEQUENCE {sequence}")
    return position


def _sequence_give(cursor, table: str, position: tuple[int, bool]) -> None:
    cursor.execute(f"CREATE SEQUENCE {SEQUENCE} OWNED BY {table}.id")
    cursor.execute("SELECT setval(%s, %s, %s)", [SEQUENCE, position[0], position[1]])
    cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')")


def partition_events(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _is_partitioned(cursor):
            return
        _refuse_dependants(cursor, TABLE)
        primary, indexes = _index_definitions(cursor, TABLE)
        oldest = _fetch(cursor, f'SELECT min("timestamp") FROM {TABLE}')[0][0]  # noqa: S608
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        position = _sequence_take(cursor, OLD)
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING ALL EXCLUDING INDEXES EXCLUDING IDENTITY) "
            'PARTITION BY RANGE ("timestamp")'
        )
        _sequence_give(cursor, TABLE, position)

        now = timezone.now()
        floor = _month(now - dt.timedelta(days=366 * OLDEST_YEARS))
        month = max(_month(oldest), floor) if oldest else _month(now)
        last = _month(now)
        for _ in range(AHEAD_MONTHS):
            last = _next(last)
        while month <= last:
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{month:%Y_%m} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{month.isoformat()} 00:00+00') "
                f"TO ('{_next(month).isoformat()} 00:00+00')"
            )
            month = _next(month)
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")

        # Rows first, indexes after: building an index once is cheaper than keeping it row by row.
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608
        cursor.execute(f"INSERT INTO {KEYS} (source_id, message_id) SELECT source_id, message_id FROM {OLD}")  # noqa: S608
        cursor.execute(f"DROP TABLE {OLD}")
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT {primary} PRIMARY KEY (id, "timestamp")')
        for statement in indexes:
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {TABLE}")


def unpartition_events(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not _is_partitioned(cursor):
            return
        _refuse_dependants(cursor, TABLE)
        primary, indexes = _index_definitions(cursor, TABLE)
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        position = _sequence_take(cursor, OLD)
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING ALL EXCLUDING INDEXES)")
        _sequence_give(cursor, TABLE, position)
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608
        cursor.execute(f"DROP TABLE {OLD}")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {primary} PRIMARY KEY (id)")
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {DEDUPLICATION_INDEX} UNIQUE (source_id, message_id)"
        )
        for statement in indexes:
            cursor.execute(statement)
        cursor.execute(f"ANALYZE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("profiles", "0009_profile_links")]

    operations = [
        migrations.CreateModel(
            name="EventMessage",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "source_id",
                        "message_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("source_id", models.BigIntegerField()),
                ("message_id", models.CharField(max_length=100)),
            ],
        ),
        migrations.AlterField(
            model_name="profilemerge",
            name="event",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="profiles.event",
            ),
        ),
        migrations.RunPython(partition_events, unpartition_events),
    ]
