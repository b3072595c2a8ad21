"""The event table's time partitions on PostgreSQL: created ahead of time, dropped for retention.

On PostgreSQL `profiles_event` is partitioned by range of `timestamp` (the event's time, which
segment windows, the timeline and resolution's claims all read), one partition per calendar month
in UTC named `profiles_event_pYYYY_MM`, plus a default partition that takes any row no monthly
partition covers (a clock years off, a month not created yet), so an insert is never refused.
Queries with a time window touch only the partitions of that window; retention drops whole
months, which costs no more than dropping a table, and the month being written stays small.

`event_partitions_ensure` (a beat task, daily) creates the months ahead; a month whose rows went
to the default partition meanwhile gets them moved into its new partition before it is attached.
`event_partitions_drop_before` drops the months wholly older than a date. Both hold one advisory
lock, so two runs never interleave. On SQLite (the embedded default) the table is a plain one and
both do nothing.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from cdp_site import db

from .aggregates import aggregates_forget_before, aggregates_refresh_pairs
from .models import Event, EventMessage, ProfileMerge

TABLE = Event._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
# Months created ahead of the current one: a month is ready long before its first event.
AHEAD_MONTHS = 3
_MONTHLY = re.compile(rf"^{TABLE}_p(\d{{4}})_(\d{{2}})$")
# "cdp.part" in ASCII: serialises the runs of this module's two services.
_LOCK_KEY = 0x6364702E70617274


@dataclass(frozen=True)
class Partition:
    name: str
    start: dt.datetime  # inclusive
    end: dt.datetime  # exclusive


def month_start(at: dt.datetime | dt.date) -> dt.datetime:
    """The first instant (UTC) of the month `at` falls in."""
    if isinstance(at, dt.datetime):
        at = at.astimezone(dt.UTC)
    return dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC)


def month_after(start: dt.datetime) -> dt.datetime:
    return dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=dt.UTC)


def partition_for(start: dt.datetime) -> Partition:
    return Partition(f"{TABLE}_p{start:%Y_%m}", start, month_after(start))


def months(first: dt.datetime, last: dt.datetime) -> list[Partition]:
    """The monthly partitions from the month of `first` to the month of `last`, both included."""
    found, start, stop = [], month_start(first), month_start(last)
    while start <= stop:
        found.append(partition_for(start))
        start = month_after(start)
    return found


def is_partitioned() -> bool:
    """Whether the event table is partitioned here (PostgreSQL after migration 0010)."""
    if not db.on_postgresql():
        return False
    rows = db.fetchall(
        "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)",
        [connection.ops.quote_name(TABLE)],
    )
    return bool(rows) and rows[0][0] == "p"


def partitions_list() -> list[Partition]:
    """The monthly partitions that exist, oldest first (not the default partition)."""
    rows = db.fetchall(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s)",
        [TABLE],
    )
    found = []
    for (name,) in rows:
        match = _MONTHLY.match(name)
        if match:
            found.append(partition_for(dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC)))
    return sorted(found, key=lambda p: p.start)


def _lock() -> None:
    db.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def partition_create_sql(partition: Partition) -> list[str]:
    """The statements that create `partition` and attach it, its rows taken from the default one.

    Created apart and then attached, not `CREATE TABLE ... PARTITION OF`: that would fail if the
    default partition held rows of the month, and attaching needs a weaker lock on the table.
    Attaching builds the partition's indexes from the table's.
    """
    name, table, default = _quote(partition.name), _quote(TABLE), _quote(DEFAULT_PARTITION)
    start, end = partition.start.isoformat(), partition.end.isoformat()
    return [
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE)",
        f"WITH moved AS (DELETE FROM {default} WHERE \"timestamp\" >= '{start}' "  # noqa: S608 - our names
        f"AND \"timestamp\" < '{end}' RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{end}')",
    ]


def event_partitions_ensure(
    *, since: dt.datetime | None = None, ahead_months: int = AHEAD_MONTHS
) -> list[str]:
    """Create the missing monthly partitions from the month of `since` (default: this month) to
    `ahead_months` months after this one; returns the names created. Idempotent."""
    if not is_partitioned():
        return []
    now = timezone.now()
    last = month_start(now)
    for _ in range(ahead_months):
        last = month_after(last)
    created = []
    with transaction.atomic():
        _lock()
        existing = {p.name for p in partitions_list()}
        for partition in months(since or now, last):
            if partition.name in existing:
                continue
            for statement in partition_create_sql(partition):
                db.execute(statement)
            created.append(partition.name)
    return created


def event_partitions_drop_before(*, before: dt.datetime) -> dict[str, int]:
    """Drop every monthly partition wholly older than `before`, and delete the default
    partition's rows older than it; returns {partition name: events removed} (the default
    partition's only when it had some).

    Their events' message keys go with them (a message sent again after that is stored again),
    and merges that name one of their events forget it, as when the ORM deletes an event.
    Rows of a month only partly older than `before` are kept: deleting those is row by row.
    """
    if not is_partitioned():
        return {}
    removed: dict[str, int] = {}
    newest_end = None
    with transaction.atomic():
        _lock()
        for partition in partitions_list():
            if partition.end <= before:
                removed[partition.name] = db.fetchall(
                    f"SELECT COUNT(*) FROM {_quote(partition.name)}"  # noqa: S608 - our names
                )[0][0]
                _forget_events(partition.name, "TRUE", [])
                db.execute(f"DROP TABLE {_quote(partition.name)}")
                newest_end = max(newest_end or partition.end, partition.end)
        _forget_events(DEFAULT_PARTITION, 'e."timestamp" < %s', [before])
        # The aggregates of the days the default partition's deleted rows fall on.
        pairs = db.fetchall(
            f"SELECT DISTINCT e.profile_id, (e.\"timestamp\" AT TIME ZONE 'UTC')::date "  # noqa: S608 - our names
            f"FROM {_quote(DEFAULT_PARTITION)} e "
            'WHERE e."timestamp" < %s AND e.profile_id IS NOT NULL',
            [before],
        )
        deleted = db.execute(
            f'DELETE FROM {_quote(DEFAULT_PARTITION)} e WHERE e."timestamp" < %s',  # noqa: S608 - our names
            [before],
        )
        if deleted:
            removed[DEFAULT_PARTITION] = deleted
        if newest_end is not None:
            # No event is left before the end of the newest month dropped.
            aggregates_forget_before(before=newest_end)
        aggregates_refresh_pairs(pairs=[(row[0], row[1]) for row in pairs])
    return removed


def _forget_events(partition: str, condition: str, params: list) -> None:
    """Before the events of `partition` matching `condition` (on `e`) go: drop their message
    keys, and the merges' references to them."""
    events = f"{_quote(partition)} e"
    db.execute(
        f"UPDATE {_quote(ProfileMerge._meta.db_table)} m SET event_id = NULL "  # noqa: S608 - our names
        f"FROM {events} WHERE m.event_id = e.id AND {condition}",
        params,
    )
    db.execute(
        f"DELETE FROM {_quote(EventMessage._meta.db_table)} k USING {events} "  # noqa: S608 - our names
        f"WHERE k.source_id = e.source_id AND k.message_id = e.message_id AND {condition}",
        params,
    )
