"""The builder's catalogue: which trait keys, events and property keys the data holds, with types.

Gathered from a sample of the newest profiles and events by one grouped SQL query each (json_each
on SQLite, jsonb_each on PostgreSQL), and kept in CatalogueField by a scheduled task. The
queries name the profiles app's tables through its models, never by hand.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Event, Profile

from .models import CatalogueField

PROFILE_SAMPLE = 20_000
EVENT_SAMPLE = 100_000

_PG_TYPES = {"string": "string", "number": "number", "boolean": "boolean", "array": "list"}
_SQLITE_TYPES = {
    "text": "string",
    "integer": "number",
    "real": "number",
    "true": "boolean",
    "false": "boolean",
    "array": "list",
}


def _keys_sql(table: str, column: str, sample: int, where: str, group_event: bool) -> str:
    event_col = "s.event" if group_event else "''"
    if connection.vendor == "postgresql":
        each = f"jsonb_each(s.{column})"
        typ, txt = "jsonb_typeof(j.value)", "(j.value #>> '{}')"
    else:
        each = f"json_each(s.{column})"
        typ, txt = "j.type", "j.value"
    return (
        f"SELECT {event_col}, j.key, {typ}, COUNT(*), "  # noqa: S608 - our own table/column names
        f"SUM(CASE WHEN {txt} LIKE '____-__-__%%' THEN 1 ELSE 0 END) "
        f"FROM (SELECT * FROM {table} {where} ORDER BY id DESC LIMIT {int(sample)}) s, {each} j "
        f"GROUP BY 1, 2, 3"
    )


def _field_type(db_type: str | None, count: int, date_like: int) -> str:
    table = _PG_TYPES if connection.vendor == "postgresql" else _SQLITE_TYPES
    kind = table.get(db_type or "", "object")
    if kind == "string" and count and date_like / count >= 0.9:
        return "date"
    return kind


def _collect(rows) -> dict[tuple[str, str], tuple[str, int]]:
    """(event, key) -> (the most frequent type, how often the key was seen)."""
    best: dict[tuple[str, str], tuple[str, int, int]] = {}
    for event, key, db_type, count, date_like in rows:
        if db_type == "null":
            continue
        kind = _field_type(db_type, count, date_like or 0)
        seen_type, seen_count, total = best.get((event, key), (kind, 0, 0))
        if count > seen_count:
            seen_type, seen_count = kind, count
        best[(event, key)] = (seen_type, seen_count, total + count)
    return {k: (t, total) for k, (t, _c, total) in best.items()}


def catalogue_refresh() -> int:
    """Replace the catalogue with what the newest data holds; returns the number of fields."""
    now = timezone.now()
    profiles = connection.ops.quote_name(Profile._meta.db_table)
    events = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_keys_sql(profiles, "traits", PROFILE_SAMPLE, "", False))
        traits = _collect(cursor.fetchall())
        cursor.execute(_keys_sql(events, "properties", EVENT_SAMPLE, "WHERE type = 'track'", True))
        properties = _collect(cursor.fetchall())
        cursor.execute(
            f"SELECT event, COUNT(*) FROM (SELECT event FROM {events} "  # noqa: S608 - a model's table
            "WHERE type = 'track' ORDER BY id DESC LIMIT %s) s GROUP BY event",
            [EVENT_SAMPLE],
        )
        events = cursor.fetchall()
    fields = [
        CatalogueField(kind="trait", key=key, value_type=kind, seen=seen, refreshed_at=now)
        for (_e, key), (kind, seen) in traits.items()
    ]
    fields += [
        CatalogueField(
            kind="event", event=name, key="", value_type="event", seen=seen, refreshed_at=now
        )
        for name, seen in events
        if name
    ]
    fields += [
        CatalogueField(
            kind="property", event=event, key=key, value_type=kind, seen=seen, refreshed_at=now
        )
        for (event, key), (kind, seen) in properties.items()
        if event
    ]
    with transaction.atomic():
        CatalogueField.objects.all().delete()
        CatalogueField.objects.bulk_create(fields)
    return len(fields)
