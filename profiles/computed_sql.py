"""The SQL of computed traits: each definition becomes one set-based SELECT of
(profile, value), and one statement merges them all into `ProfileComputed.values`.

Each definition reads the event aggregates where they give exactly its answer (no property
filter, no window: counts, revenue totals, first and last times), and the raw events otherwise.
Events count for the live profile they belong to: their own, or, while the profile they are
stored under is linked (merged away, its events not yet moved), the live profile of its link.
Values are JSON: numbers for counts and numeric aggregations (only JSON numbers are used: a text
or missing value is skipped), ISO-8601 text for times, the JSON value itself for first, last and
most frequent values. Counters and sums are 0 for a profile without matching events; the
others are left out (not set).

PostgreSQL only: the computation answers nothing on other databases (see `computed_supported`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from cdp_site import db

from .models import ComputedTrait, Event, EventTotal, Profile, ProfileComputed, ProfileLink

Kind = ComputedTrait.Kind
_EVENTS = Event._meta.db_table
_TOTALS = EventTotal._meta.db_table
_PROFILES = Profile._meta.db_table
_LINKS = ProfileLink._meta.db_table
_COMPUTED = ProfileComputed._meta.db_table

NUMERIC_KINDS = (Kind.SUM, Kind.AVERAGE, Kind.MIN, Kind.MAX)
PROPERTY_KINDS = (*NUMERIC_KINDS, Kind.FIRST_VALUE, Kind.LAST_VALUE, Kind.MOST_FREQUENT)
PROPERTY_KINDS = (*PROPERTY_KINDS, Kind.UNIQUE_COUNT)
ZERO_KINDS = (Kind.EVENT_COUNT, Kind.SUM, Kind.UNIQUE_COUNT)
# Numbers beyond this are no measurement (a mistyped field): skipped, never overflowing a sum.
MAX_NUMBER = 10**25
# Averages keep this many decimals.
AVERAGE_SCALE = 4


def computed_supported() -> bool:
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class Spec:
    """What one definition computes (the fields of `ComputedTrait` the SQL needs)."""

    key: str
    kind: str
    event: str = ""
    prop: str = ""
    where: tuple = ()
    window_days: int | None = None

    @classmethod
    def of(cls, trait: ComputedTrait) -> Spec:
        return cls(
            key=trait.key,
            kind=trait.kind,
            event=trait.event,
            prop=trait.property,
            where=tuple(tuple(sorted(w.items())) for w in trait.where or []),
            window_days=trait.window_days,
        )

    @property
    def filters(self) -> list[dict]:
        return [dict(items) for items in self.where]


def _json(column: str, key: str) -> tuple[str, list]:
    return f"({column} -> %s)", [key]


def _number(column: str, key: str) -> tuple[str, list]:
    """The JSON value as numeric when it is a number of sensible size, else NULL."""
    return (
        f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' "
        f"AND abs(({column} ->> %s)::numeric) < {MAX_NUMBER} THEN ({column} ->> %s)::numeric END)",
        [key, key, key],
    )


def _filter_sql(item: dict) -> tuple[str, list]:
    """One property filter on `e.properties` (validated by `computed_traits`); never NULL."""
    key, operator, value = item["property"], item["operator"], item.get("value")
    value_sql, value_params = _json("e.properties", key)
    typ = f"jsonb_typeof({value_sql})"
    if operator in ("is_set", "is_not_set"):
        sql = f"({typ} IS NOT NULL AND {typ} <> 'null')"
        params = [*value_params, *value_params]
    elif operator in ("equals", "not_equals", "contains"):
        if isinstance(value, str):
            text = "(e.properties ->> %s)"
            if operator == "contains":
                sql = f"({typ} = 'string' AND strpos(lower({text}), lower(%s)) > 0)"
            else:
                sql = f"({typ} = 'string' AND lower({text}) = lower(%s))"
            params = [*value_params, key, value]
        else:
            number_sql, number_params = _number("e.properties", key)
            sql, params = f"({number_sql} = %s)", [*number_params, value]
    else:
        symbol = {
            "greater_than": ">",
            "greater_or_equal": ">=",
            "less_than": "<",
            "less_or_equal": "<=",
        }[operator]
        number_sql, number_params = _number("e.properties", key)
        sql, params = f"({number_sql} {symbol} %s)", [*number_params, value]
    sql = f"COALESCE({sql}, FALSE)"
    if operator in ("not_equals", "is_not_set"):
        sql = f"NOT {sql}"
    return sql, params


@dataclass
class Scope:
    """Which profiles to compute: all live ones, or these live ones (and the profiles whose
    events are stored for them)."""

    profile_ids: list[int] | None
    stored_ids: list[int] | None
    linked: bool
    now: dt.datetime


def _today(scope: Scope) -> dt.date:
    return scope.now.astimezone(dt.UTC).date()


def _live(column: str, scope: Scope) -> str:
    return f"COALESCE(l.live_id, {column})" if scope.linked else column


def _link_join(column: str, scope: Scope) -> str:
    return f"LEFT JOIN {_LINKS} l ON l.profile_id = {column}" if scope.linked else ""


def _scope_filter(column: str, scope: Scope) -> tuple[str, list]:
    if scope.stored_ids is None:
        return "", []
    return f" AND {column} = ANY(%s::bigint[])", [db.bigint_array(scope.stored_ids)]


def from_totals(spec: Spec) -> bool:
    """Whether the per-profile event totals answer this definition exactly."""
    if spec.where or spec.window_days:
        return False
    if spec.kind in (Kind.EVENT_COUNT, Kind.FIRST_TIME, Kind.LAST_TIME, Kind.DAYS_SINCE_LAST):
        return True
    return spec.kind in (Kind.SUM, Kind.AVERAGE) and spec.prop == "revenue" and spec.event != ""


def _totals_select(spec: Spec, scope: Scope) -> tuple[str, list]:
    live = _live("t.profile_id", scope)
    value = {
        Kind.EVENT_COUNT: "to_jsonb(sum(t.count))",
        Kind.SUM: "to_jsonb(COALESCE(sum(t.revenue_sum), 0))",
        Kind.AVERAGE: (
            f"CASE WHEN sum(t.revenue_count) > 0 THEN to_jsonb(round(sum(t.revenue_sum) "
            f"/ sum(t.revenue_count), {AVERAGE_SCALE})) END"
        ),
        Kind.FIRST_TIME: "to_jsonb(min(t.first_at))",
        Kind.LAST_TIME: "to_jsonb(max(t.last_at))",
        Kind.DAYS_SINCE_LAST: ("to_jsonb((%s::date - (max(t.last_at) AT TIME ZONE 'UTC')::date))"),
    }[spec.kind]
    params: list = [_today(scope)] if spec.kind == Kind.DAYS_SINCE_LAST else []
    where, where_params = "TRUE", []
    if spec.event:
        where, where_params = "t.event = %s", [spec.event]
    scope_sql, scope_params = _scope_filter("t.profile_id", scope)
    return (
        f"SELECT {live} AS profile_id, {value} AS value FROM {_TOTALS} t "  # noqa: S608 - our names
        f"{_link_join('t.profile_id', scope)} WHERE {where}{scope_sql} GROUP BY 1",
        [*params, *where_params, *scope_params],
    )


def _events_where(spec: Spec, scope: Scope) -> tuple[str, list]:
    parts, params = ["e.profile_id IS NOT NULL"], []
    if spec.event:
        parts.append("e.event = %s")
        params.append(spec.event)
    if spec.window_days:
        parts.append('e."timestamp" >= %s')
        params.append(scope.now - dt.timedelta(days=spec.window_days))
    for item in spec.filters:
        sql, item_params = _filter_sql(item)
        parts.append(sql)
        params += item_params
    scope_sql, scope_params = _scope_filter("e.profile_id", scope)
    return " AND ".join(parts) + scope_sql, params + scope_params


def _events_select(spec: Spec, scope: Scope) -> tuple[str, list]:
    live = _live("e.profile_id", scope)
    join = _link_join("e.profile_id", scope)
    where, where_params = _events_where(spec, scope)
    kind = spec.kind
    if kind in (Kind.FIRST_VALUE, Kind.LAST_VALUE):
        order = "ASC" if kind == Kind.FIRST_VALUE else "DESC"
        value_sql, value_params = _json("e.properties", spec.prop)
        # The first (last) event that holds the property, by time then id.
        return (
            f"SELECT DISTINCT ON (1) {live} AS profile_id, {value_sql} AS value "  # noqa: S608 - our names
            f"FROM {_EVENTS} e {join} WHERE {where} "
            f"AND jsonb_typeof({value_sql}) IS NOT NULL AND jsonb_typeof({value_sql}) <> 'null' "
            f'ORDER BY 1, e."timestamp" {order}, e.id {order}',
            [*value_params, *where_params, *value_params, *value_params],
        )
    if kind == Kind.MOST_FREQUENT:
        value_sql, value_params = _json("e.properties", spec.prop)
        # Ties go to the smallest value (JSON order), so a recompute never flips between them.
        return (
            "SELECT DISTINCT ON (profile_id) profile_id, value FROM ("  # noqa: S608 - our names
            f"SELECT {live} AS profile_id, {value_sql} AS value, count(*) AS n "
            f"FROM {_EVENTS} e {join} WHERE {where} "
            f"AND jsonb_typeof({value_sql}) IS NOT NULL AND jsonb_typeof({value_sql}) <> 'null' "
            "GROUP BY 1, 2) c ORDER BY profile_id, n DESC, value",
            [*value_params, *where_params, *value_params, *value_params],
        )
    if kind == Kind.UNIQUE_COUNT:
        value_sql, value_params = _json("e.properties", spec.prop)
        return (
            f"SELECT {live} AS profile_id, to_jsonb(count(DISTINCT {value_sql})) AS value "  # noqa: S608 - our names
            f"FROM {_EVENTS} e {join} WHERE {where} "
            f"AND jsonb_typeof({value_sql}) IS NOT NULL AND jsonb_typeof({value_sql}) <> 'null' "
            "GROUP BY 1",
            [*value_params, *where_params, *value_params, *value_params],
        )
    if kind in NUMERIC_KINDS:
        number_sql, number_params = _number("e.properties", spec.prop)
        aggregate = {
            Kind.SUM: f"COALESCE(sum({number_sql}), 0)",
            Kind.AVERAGE: f"round(avg({number_sql}), {AVERAGE_SCALE})",
            Kind.MIN: f"min({number_sql})",
            Kind.MAX: f"max({number_sql})",
        }[kind]
        return (
            f"SELECT {live} AS profile_id, to_jsonb({aggregate}) AS value "  # noqa: S608 - our names
            f"FROM {_EVENTS} e {join} WHERE {where} GROUP BY 1",
            [*number_params, *where_params],
        )
    value = {
        Kind.EVENT_COUNT: "to_jsonb(count(*))",
        Kind.FIRST_TIME: 'to_jsonb(min(e."timestamp"))',
        Kind.LAST_TIME: 'to_jsonb(max(e."timestamp"))',
        Kind.DAYS_SINCE_LAST: (
            """to_jsonb((%s::date - (max(e."timestamp") AT TIME ZONE 'UTC')::date))"""
        ),
    }[kind]
    params: list = [_today(scope)] if kind == Kind.DAYS_SINCE_LAST else []
    return (
        f"SELECT {live} AS profile_id, {value} AS value "  # noqa: S608 - our names
        f"FROM {_EVENTS} e {join} WHERE {where} GROUP BY 1",
        [*params, *where_params],
    )


def spec_select(spec: Spec, scope: Scope, *, totals: bool) -> tuple[str, list]:
    """SELECT profile_id, value (jsonb, never JSON null) for one definition."""
    if totals and from_totals(spec):
        sql, params = _totals_select(spec, scope)
    else:
        sql, params = _events_select(spec, scope)
    return f"SELECT profile_id, value FROM ({sql}) v WHERE value IS NOT NULL", params  # noqa: S608 - our names


STAGE = "computed_trait_stage"


def stage_create() -> None:
    """A temporary table for this transaction's computed (profile, key, value) rows."""
    db.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} "
        "(profile_id bigint, key text, value jsonb) ON COMMIT DROP"
    )
    db.execute(f"TRUNCATE {STAGE}")


def stage_insert(spec: Spec, scope: Scope, *, totals: bool) -> int:
    sql, params = spec_select(spec, scope, totals=totals)
    return db.execute(
        f"INSERT INTO {STAGE} (profile_id, key, value) SELECT s.profile_id, %s, s.value "  # noqa: S608 - our names
        f"FROM ({sql}) s",
        [spec.key, *params],
    )


def stage_merge(specs: list[Spec], scope: Scope) -> int:
    """Write the staged values into `ProfileComputed` for every live profile in scope: these
    definitions' keys are replaced (others' keys, such as scores, are kept); rows that would not
    change are not rewritten."""
    keys = "{" + ",".join('"' + s.key.replace('"', "") + '"' for s in specs) + "}"
    defaults = {s.key: 0 for s in specs if s.kind in ZERO_KINDS}
    scope_sql, scope_params = "", []
    if scope.profile_ids is not None:
        scope_sql, scope_params = (
            " AND p.id = ANY(%s::bigint[])",
            [db.bigint_array(scope.profile_ids)],
        )
    return db.execute(
        f"""
        WITH obj AS (
            SELECT profile_id, jsonb_object_agg(key, value) AS o FROM {STAGE} GROUP BY profile_id
        )
        INSERT INTO {_COMPUTED} AS c (profile_id, "values", computed_at)
        SELECT p.id, %s::jsonb || COALESCE(obj.o, '{{}}'::jsonb), %s
        FROM {_PROFILES} p LEFT JOIN obj ON obj.profile_id = p.id
        WHERE p.merged_into_id IS NULL{scope_sql}
        ON CONFLICT (profile_id) DO UPDATE
        SET "values" = (c."values" - %s::text[]) || EXCLUDED."values",
            computed_at = EXCLUDED.computed_at
        WHERE c."values" IS DISTINCT FROM (c."values" - %s::text[]) || EXCLUDED."values"
        """,  # noqa: S608 - our names
        [db.dumps(defaults), scope.now, *scope_params, keys, keys],
    )


def key_remove(key: str) -> int:
    """Remove one key from every profile's computed values (its definition was deleted)."""
    return db.execute(
        f'UPDATE {_COMPUTED} SET "values" = "values" - %s WHERE "values" ? %s',  # noqa: S608 - our names
        [key, key],
    )


def merged_away_forget(profile_ids: list[int]) -> int:
    """Profiles merged into others keep no computed values of their own."""
    return db.execute(
        f"DELETE FROM {_COMPUTED} c USING {_PROFILES} p WHERE p.id = c.profile_id "  # noqa: S608 - our names
        "AND p.merged_into_id IS NOT NULL AND p.id = ANY(%s::bigint[])",
        [db.bigint_array(profile_ids)],
    )


def distribution(spec_key: str, value_type: str, *, buckets: int = 20) -> dict:
    """How the values of one key are spread: numeric bins, months of dates, or top values."""
    if value_type == "number":
        rows = db.fetchall(
            f"""
            WITH v AS (
                SELECT ("values" ->> %s)::numeric AS x FROM {_COMPUTED}
                WHERE jsonb_typeof("values" -> %s) = 'number'
            ), r AS (SELECT min(x) AS lo, max(x) AS hi, count(*) AS n FROM v)
            SELECT r.lo, r.hi, r.n,
                   CASE WHEN r.hi = r.lo THEN 1 ELSE width_bucket(v.x, r.lo, r.hi, %s) END AS b,
                   count(*)
            FROM v, r GROUP BY r.lo, r.hi, r.n, b ORDER BY b
            """,  # noqa: S608 - our names
            [spec_key, spec_key, buckets],
        )
        if not rows:
            return {"type": "number", "edges": [], "counts": [], "total": 0}
        low, high, total = float(rows[0][0]), float(rows[0][1]), rows[0][2]
        width = (high - low) / buckets if high > low else 1.0
        counts = [0] * (buckets if high > low else 1)
        for _lo, _hi, _n, bucket, count in rows:
            # width_bucket puts the maximum itself one past the last bucket.
            counts[min(bucket, len(counts)) - 1] += count
        edges = [low + width * i for i in range(len(counts) + 1)]
        return {"type": "number", "edges": edges, "counts": counts, "total": total}
    if value_type == "date":
        rows = db.fetchall(
            f"""
            SELECT substr("values" ->> %s, 1, 7) AS month, count(*) FROM {_COMPUTED}
            WHERE jsonb_typeof("values" -> %s) = 'string'
              AND ("values" ->> %s) ~ '^[0-9]{{4}}-[0-9]{{2}}'
            GROUP BY 1 ORDER BY 1
            """,  # noqa: S608 - our names
            [spec_key, spec_key, spec_key],
        )
        return {
            "type": "date",
            "labels": [r[0] for r in rows],
            "counts": [r[1] for r in rows],
            "total": sum(r[1] for r in rows),
        }
    rows = db.fetchall(
        f"""
        SELECT "values" ->> %s AS v, count(*) FROM {_COMPUTED}
        WHERE "values" ? %s AND jsonb_typeof("values" -> %s) <> 'null'
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s
        """,  # noqa: S608 - our names
        [spec_key, spec_key, spec_key, buckets],
    )
    total = db.fetchall(
        f'SELECT count(*) FROM {_COMPUTED} WHERE "values" ? %s',  # noqa: S608 - our names
        [spec_key],
    )[0][0]
    return {
        "type": "string",
        "labels": [r[0] for r in rows],
        "counts": [r[1] for r in rows],
        "total": total,
    }
