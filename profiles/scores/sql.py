"""The SQL pieces the scores share, for PostgreSQL and SQLite.

A customer's orders are the `Order Completed` events stored under the customer's profile or under
a profile merged into it whose events have not moved yet (its `ProfileLink` names the live one).
Revenue is the order's `properties.revenue` when it is a JSON number; anything else counts as an
order without revenue.
"""

from django.db import connection

ORDER_EVENT = "Order Completed"


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def numeric_property(column: str, key: str) -> str:
    """SQL for the JSON number `column.key` as a number, NULL when it is not a number."""
    if on_postgresql():
        return (
            f"CASE WHEN jsonb_typeof({column} -> '{key}') = 'number' "
            f"THEN ({column} ->> '{key}')::numeric END"
        )
    return (
        f"CASE WHEN json_type({column}, '$.{key}') IN ('integer', 'real') "
        f"THEN json_extract({column}, '$.{key}') END"
    )


def days_between(earlier: str, later: str) -> str:
    """SQL for the (fractional) days from `earlier` to `later`."""
    if on_postgresql():
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def live_events(where: str) -> str:
    """The events matching `where` (over alias `e`) with the live profile they belong to (`pid`).

    Profiles merged away whose events have not moved yet name their live profile in
    `profiles_profilelink`; every other event belongs to the profile it is stored under.
    """
    return (
        "SELECT COALESCE(l.live_id, e.profile_id) AS pid, e.timestamp AS ts, e.event AS event, "
        "e.properties AS properties "
        "FROM profiles_event e LEFT JOIN profiles_profilelink l ON l.profile_id = e.profile_id "
        f"WHERE e.profile_id IS NOT NULL AND {where}"
    )


def merge_computed(source_sql: str, keys: tuple[str, ...]) -> str:
    """An upsert of `source_sql`'s rows (`pid`, `vals` as a JSON object, `at`) into the computed
    values: `keys` are replaced, every other key of the row stays as it was."""
    if on_postgresql():
        key_array = "ARRAY[" + ",".join(f"'{k}'" for k in keys) + "]::text[]"
        return (
            'INSERT INTO profiles_profilecomputed (profile_id, "values", computed_at) '
            f"SELECT pid, vals, at FROM ({source_sql}) AS src "
            "ON CONFLICT (profile_id) DO UPDATE SET "
            f'"values" = (profiles_profilecomputed."values" - {key_array}) || EXCLUDED."values", '
            "computed_at = EXCLUDED.computed_at"
        )
    paths = ", ".join(f"'$.{k}'" for k in keys)
    return (
        'INSERT INTO profiles_profilecomputed (profile_id, "values", computed_at) '
        f"SELECT pid, vals, at FROM ({source_sql}) AS src WHERE true "
        "ON CONFLICT (profile_id) DO UPDATE SET "
        f'"values" = json_patch(json_remove(profiles_profilecomputed."values", {paths}), '
        'excluded."values"), computed_at = excluded.computed_at'
    )


def remove_computed(keys: tuple[str, ...], keep_table: str) -> str:
    """Remove `keys` from every profile that has no row (`pid`) in `keep_table` (no longer
    scored)."""
    if on_postgresql():
        key_array = "ARRAY[" + ",".join(f"'{k}'" for k in keys) + "]::text[]"
        return (
            f'UPDATE profiles_profilecomputed SET "values" = "values" - {key_array} '
            f'WHERE "values" ?| {key_array} AND NOT EXISTS '
            f"(SELECT 1 FROM {keep_table} k WHERE k.pid = profiles_profilecomputed.profile_id)"
        )
    paths = ", ".join(f"'$.{k}'" for k in keys)
    present = " OR ".join(f"json_type(\"values\", '$.{k}') IS NOT NULL" for k in keys)
    return (
        f'UPDATE profiles_profilecomputed SET "values" = json_remove("values", {paths}) '
        f"WHERE ({present}) AND NOT EXISTS "
        f"(SELECT 1 FROM {keep_table} k WHERE k.pid = profiles_profilecomputed.profile_id)"
    )


def json_object(pairs: dict[str, str]) -> str:
    """SQL building a JSON object from key -> SQL expression."""
    function = "jsonb_build_object" if on_postgresql() else "json_object"
    return f"{function}(" + ", ".join(f"'{k}', {v}" for k, v in pairs.items()) + ")"


def time_param() -> str:
    """A placeholder for a timestamp parameter used in arithmetic."""
    return "%s::timestamptz" if on_postgresql() else "%s"


def temporary_table(name: str, select_sql: str) -> str:
    """`CREATE TEMPORARY TABLE name AS select_sql`, dropped at commit on PostgreSQL."""
    drop = " ON COMMIT DROP" if on_postgresql() else ""
    return f"CREATE TEMPORARY TABLE {name}{drop} AS {select_sql}"


def pairs_from_json() -> str:
    """A SELECT of (`pid`, `p`) rows unpacked from one JSON parameter `[[id, number], ...]`."""
    if on_postgresql():
        return (
            "SELECT (r ->> 0)::bigint AS pid, (r ->> 1)::float8 AS p "
            "FROM jsonb_array_elements(%s::jsonb) AS r"
        )
    return (
        "SELECT json_extract(value, '$[0]') AS pid, json_extract(value, '$[1]') AS p "
        "FROM json_each(%s)"
    )
