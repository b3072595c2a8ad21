"""Event aggregates: per profile, event and UTC day, and per profile and event over all time.

`EventDayAggregate` and `EventTotal` hold, for the profile the events are stored under, how
many events of each name there were, the sum of their numeric `revenue`, and the first and
last time. They are kept exact by recomputing the rows an event change touched from the raw
events (never by adding deltas, so running a refresh twice, or for rows already right, is
harmless):

- resolution attached events: the (profile, day) pairs of those events (`events_resolved`);
- merges, undos and the consolidation of links moved events: every day of the profiles involved;
- erasure and retention deleted events: the pairs of the deleted events, or every day before a
  dropped month.

Built once over every event (`aggregates_rebuild`, by the scheduled recompute of the computed
traits when they are missing, or after `rebuild`); until then, and on databases other than
PostgreSQL, nothing reads them and nothing maintains them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from cdp_site import db

from .models import Event, EventAggregateState, EventDayAggregate, EventTotal

STATE = "events"
# Revenue beyond this is no amount of money (a mistyped field): it is skipped, which also keeps
# every sum inside the column's precision.
MAX_REVENUE = 10**25

_EVENTS = Event._meta.db_table
_DAYS = EventDayAggregate._meta.db_table
_TOTALS = EventTotal._meta.db_table
_STATE = EventAggregateState._meta.db_table

_DAY = """(e."timestamp" AT TIME ZONE 'UTC')::date"""
_REVENUE = (
    "CASE WHEN jsonb_typeof(e.properties -> 'revenue') = 'number' "
    f"AND abs((e.properties ->> 'revenue')::numeric) < {MAX_REVENUE} "
    "THEN (e.properties ->> 'revenue')::numeric END"
)
_DAY_COLUMNS = "profile_id, event, day, count, revenue_sum, revenue_count, first_at, last_at"
_DAY_SELECT = (
    f'count(*), sum({_REVENUE}), count({_REVENUE}), min(e."timestamp"), max(e."timestamp")'
)
_ON_CONFLICT_DAY = (
    "ON CONFLICT (profile_id, event, day) DO UPDATE SET count = EXCLUDED.count, "
    "revenue_sum = EXCLUDED.revenue_sum, revenue_count = EXCLUDED.revenue_count, "
    "first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at"
)


def aggregates_supported() -> bool:
    return connection.vendor == "postgresql"


def aggregates_built() -> bool:
    """Whether the aggregates cover every stored event (and so may answer questions)."""
    return aggregates_supported() and EventAggregateState.objects.filter(name=STATE).exists()


def _maintained() -> bool:
    """Take the lock that orders maintenance after a rebuild, then say whether to maintain.

    A rebuild holds a stronger lock on the day table for its whole transaction: maintenance
    waits for it, then sees the state it committed, and recomputes its rows from events the
    rebuild may not have seen.
    """
    if not aggregates_supported():
        return False
    db.execute(f"LOCK TABLE {_DAYS} IN ROW EXCLUSIVE MODE")
    return db.fetchall(f"SELECT 1 FROM {_STATE} WHERE name = %s", [STATE]) != []  # noqa: S608 - our names


def _totals_refresh(profile_ids: list[int]) -> None:
    ids = db.bigint_array(sorted(set(profile_ids)))
    db.execute(f"DELETE FROM {_TOTALS} WHERE profile_id = ANY(%s::bigint[])", [ids])  # noqa: S608 - our names
    db.execute(
        f"INSERT INTO {_TOTALS} ({_DAY_COLUMNS.replace('day, ', '')}) "  # noqa: S608 - our names
        "SELECT profile_id, event, sum(count), sum(revenue_sum), sum(revenue_count), "
        f"min(first_at), max(last_at) FROM {_DAYS} WHERE profile_id = ANY(%s::bigint[]) "
        "GROUP BY profile_id, event "
        "ON CONFLICT (profile_id, event) DO UPDATE SET count = EXCLUDED.count, "
        "revenue_sum = EXCLUDED.revenue_sum, revenue_count = EXCLUDED.revenue_count, "
        "first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at",
        [ids],
    )


def _pairs_refresh(pairs: Iterable[tuple[int, dt.date]]) -> int:
    """Recompute the day rows of these (stored profile id, day) pairs, then their totals."""
    pairs = sorted(set(pairs))
    if not pairs:
        return 0
    ids = db.bigint_array(p for p, _ in pairs)
    days = "{" + ",".join(d.isoformat() for _, d in pairs) + "}"
    pair_table = "unnest(%s::bigint[], %s::date[]) AS t(profile_id, day)"
    db.execute(
        f"DELETE FROM {_DAYS} a USING {pair_table} "  # noqa: S608 - our names
        "WHERE a.profile_id = t.profile_id AND a.day = t.day",
        [ids, days],
    )
    # The bounds of all the days as constants too, so PostgreSQL reads only those months of
    # the time-partitioned event table (and plans with their statistics).
    first = dt.datetime.combine(min(d for _, d in pairs), dt.time.min, dt.UTC)
    last = dt.datetime.combine(max(d for _, d in pairs), dt.time.min, dt.UTC) + dt.timedelta(days=1)
    db.execute(
        f"INSERT INTO {_DAYS} ({_DAY_COLUMNS}) "  # noqa: S608 - our names
        f"SELECT e.profile_id, e.event, t.day, {_DAY_SELECT} FROM {pair_table} "
        f'JOIN {_EVENTS} e ON e.profile_id = t.profile_id AND e."timestamp" >= '
        "(t.day::timestamp AT TIME ZONE 'UTC') "
        """AND e."timestamp" < ((t.day + 1)::timestamp AT TIME ZONE 'UTC') """
        f'WHERE e."timestamp" >= %s AND e."timestamp" < %s '
        f"GROUP BY e.profile_id, e.event, t.day {_ON_CONFLICT_DAY}",
        [ids, days, first, last],
    )
    _totals_refresh([p for p, _ in pairs])
    return len(pairs)


def event_pairs(
    *, event_ids: Iterable[int], between: tuple[dt.datetime, dt.datetime] | None = None
) -> list[tuple[int, dt.date]]:
    """The (stored profile id, UTC day) pairs of these events (PostgreSQL; empty elsewhere)."""
    ids = list(event_ids)
    if not ids or not aggregates_supported():
        return []
    sql = (
        f"SELECT DISTINCT e.profile_id, {_DAY} FROM {_EVENTS} e "  # noqa: S608 - our names
        "WHERE e.id = ANY(%s::bigint[]) AND e.profile_id IS NOT NULL"
    )
    params: list = [db.bigint_array(ids)]
    if between is not None:
        # Lets PostgreSQL read only those months of the time-partitioned table.
        sql += ' AND e."timestamp" BETWEEN %s AND %s'
        params += [between[0], between[1]]
    return [(row[0], row[1]) for row in db.fetchall(sql, params)]


def aggregates_refresh_pairs(*, pairs: Iterable[tuple[int, dt.date]]) -> int:
    """Recompute the aggregates of these (stored profile id, day) pairs, e.g. after their
    events were deleted (take the pairs with `event_pairs` before deleting)."""
    with transaction.atomic():
        if not _maintained():
            return 0
        return _pairs_refresh(pairs)


def aggregates_refresh_events(
    *, event_ids: Iterable[int], between: tuple[dt.datetime, dt.datetime] | None = None
) -> int:
    """Recompute the aggregates of the days these (just attached) events fall on."""
    with transaction.atomic():
        if not _maintained():
            return 0
        return _pairs_refresh(event_pairs(event_ids=event_ids, between=between))


def aggregates_refresh_profiles(*, profile_ids: Iterable[int]) -> int:
    """Recompute every day of these profiles (stored ids): after events moved between them."""
    ids = sorted(set(profile_ids))
    if not ids:
        return 0
    with transaction.atomic():
        if not _maintained():
            return 0
        array = db.bigint_array(ids)
        db.execute(f"DELETE FROM {_DAYS} WHERE profile_id = ANY(%s::bigint[])", [array])  # noqa: S608 - our names
        db.execute(
            f"INSERT INTO {_DAYS} ({_DAY_COLUMNS}) "  # noqa: S608 - our names
            f"SELECT e.profile_id, e.event, {_DAY}, {_DAY_SELECT} FROM {_EVENTS} e "
            "WHERE e.profile_id = ANY(%s::bigint[]) GROUP BY 1, 2, 3 " + _ON_CONFLICT_DAY,
            [array],
        )
        _totals_refresh(ids)
    return len(ids)


def aggregates_forget_before(*, before: dt.datetime) -> int:
    """After retention deleted every event stamped before `before`: drop the days before it,
    recompute its own day (partly kept), and the totals of the profiles that lost rows."""
    with transaction.atomic():
        if not _maintained():
            return 0
        day = before.astimezone(dt.UTC).date()
        lost = db.fetchall(
            f"DELETE FROM {_DAYS} WHERE day < %s RETURNING profile_id",  # noqa: S608 - our names
            [day],
        )
        edge = db.fetchall(
            f"SELECT DISTINCT profile_id FROM {_DAYS} WHERE day = %s",  # noqa: S608 - our names
            [day],
        )
        _pairs_refresh((row[0], day) for row in edge)
        _totals_refresh([row[0] for row in lost])
        return len(lost)


def aggregates_rebuild() -> int:
    """Build the aggregates over every stored event, and mark them built; returns day rows."""
    if not aggregates_supported():
        return 0
    with transaction.atomic():
        # Maintenance waits for this transaction, then redoes what it saw change meanwhile.
        db.execute(f"LOCK TABLE {_DAYS} IN SHARE ROW EXCLUSIVE MODE")
        db.execute(f"TRUNCATE {_DAYS}, {_TOTALS}")
        # One sort or hash of every event in memory rather than on disk, and the secondary
        # indexes built once at the end instead of row by row.
        db.execute("SET LOCAL work_mem = '256MB'")
        db.execute("SET LOCAL maintenance_work_mem = '256MB'")
        db.execute("SET LOCAL jit = off")
        indexes = [
            (index.name, model)
            for model in (EventDayAggregate, EventTotal)
            for index in model._meta.indexes
        ]
        for name, _model in indexes:
            db.execute(f'DROP INDEX IF EXISTS "{name}"')
        rows = db.execute(
            f"INSERT INTO {_DAYS} ({_DAY_COLUMNS}) "  # noqa: S608 - our names
            f"SELECT e.profile_id, e.event, {_DAY}, {_DAY_SELECT} FROM {_EVENTS} e "
            "WHERE e.profile_id IS NOT NULL GROUP BY 1, 2, 3"
        )
        db.execute(
            f"INSERT INTO {_TOTALS} ({_DAY_COLUMNS.replace('day, ', '')}) "  # noqa: S608 - our names
            "SELECT profile_id, event, sum(count), sum(revenue_sum), sum(revenue_count), "
            f"min(first_at), max(last_at) FROM {_DAYS} GROUP BY profile_id, event"
        )
        with connection.schema_editor(atomic=False) as editor:
            for name, model in indexes:
                index = next(i for i in model._meta.indexes if i.name == name)
                editor.add_index(model, index)
        EventAggregateState.objects.update_or_create(
            name=STATE, defaults={"built_at": timezone.now()}
        )
        db.execute(f"ANALYZE {_DAYS}")
        db.execute(f"ANALYZE {_TOTALS}")
    return rows


def aggregates_forget() -> None:
    """Stop using the aggregates until the next build (after `rebuild` re-derived profiles)."""
    EventAggregateState.objects.filter(name=STATE).delete()
