"""Filling the data catalogue from the data: a full scan of a sample, and a cheap pass per batch.

Each JSON column (profile traits, event properties, event context) is walked into dotted leaf
paths by one grouped SQL query (a recursive `jsonb_each` on PostgreSQL, `json_each` on SQLite)
over the newest rows, or over the rows of one resolved batch; the query returns per path how
often it was seen, how many distinct values it has and its most common values, which the
classifier reads. The queries name the tables through the models, never by hand.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cdp_site.db import bigint_array, dumps

from ..models import DataField, Event, Profile
from . import classify
from .classify import FieldSample

PROFILE_SAMPLE = 20_000
EVENT_SAMPLE = 100_000
# Values kept per path: the detectors' sample and the builder's suggestions.
TOP_VALUES = 25
# How deep into nested objects paths go, and how much of each value is read.
MAX_DEPTH = 6
VALUE_CHARS = 300

_PG_TYPES = {"string": "string", "number": "number", "boolean": "boolean", "array": "list"}
_SQLITE_TYPES = {
    "text": "string",
    "integer": "number",
    "real": "number",
    "true": "boolean",
    "false": "boolean",
    "array": "list",
}
_DATE_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _pg_sql(source: str) -> str:
    return f"""
    WITH RECURSIVE s AS ({source}),
    walk(grp, path, depth, value) AS (
        SELECT s.grp, j.key, 1, j.value FROM s, jsonb_each(
            CASE WHEN jsonb_typeof(s.doc) = 'object' THEN s.doc ELSE '{{}}'::jsonb END) j
        UNION ALL
        SELECT w.grp, w.path || '.' || j.key, w.depth + 1, j.value FROM walk w, jsonb_each(
            CASE WHEN jsonb_typeof(w.value) = 'object' THEN w.value ELSE '{{}}'::jsonb END) j
        WHERE w.depth < {MAX_DEPTH}
    ),
    counted AS (
        SELECT grp, path, jsonb_typeof(value) AS typ, left(value #>> '{{}}', {VALUE_CHARS}) AS txt,
               COUNT(*) AS n
        FROM walk WHERE jsonb_typeof(value) NOT IN ('object', 'null') GROUP BY 1, 2, 3, 4
    ),
    ranked AS (
        SELECT grp, path, typ, txt, n,
               row_number() OVER (PARTITION BY grp, path ORDER BY n DESC, md5(txt)) AS rn,
               COUNT(*) OVER (PARTITION BY grp, path) AS distinct_values,
               SUM(n) OVER (PARTITION BY grp, path) AS seen
        FROM counted
    )
    SELECT grp, path, typ, txt, n, distinct_values, seen FROM ranked WHERE rn <= {TOP_VALUES}
    """  # noqa: S608 - our own constants and model table names


def _sqlite_sql(source: str) -> str:
    return f"""
    WITH RECURSIVE s AS ({source}),
    walk(grp, path, depth, typ, value) AS (
        SELECT s.grp, j.key, 1, j.type, j.value FROM s, json_each(
            CASE WHEN json_type(s.doc) = 'object' THEN s.doc ELSE '{{}}' END) j
        UNION ALL
        SELECT w.grp, w.path || '.' || j.key, w.depth + 1, j.type, j.value FROM walk w, json_each(
            CASE WHEN w.typ = 'object' THEN w.value ELSE '{{}}' END) j
        WHERE w.depth < {MAX_DEPTH}
    ),
    counted AS (
        SELECT grp, path, typ, substr(CAST(value AS TEXT), 1, {VALUE_CHARS}) AS txt, COUNT(*) AS n
        FROM walk WHERE typ NOT IN ('object', 'null') GROUP BY 1, 2, 3, 4
    ),
    ranked AS (
        SELECT grp, path, typ, txt, n,
               row_number() OVER (PARTITION BY grp, path ORDER BY n DESC, txt) AS rn,
               COUNT(*) OVER (PARTITION BY grp, path) AS distinct_values,
               SUM(n) OVER (PARTITION BY grp, path) AS seen
        FROM counted
    )
    SELECT grp, path, typ, txt, n, distinct_values, seen FROM ranked WHERE rn <= {TOP_VALUES}
    """  # noqa: S608 - our own constants and model table names


def _samples(source: str, params: Sequence) -> dict[tuple[str, str], FieldSample]:
    """(group, path) -> what the rows of `source` (columns grp, doc) hold at that path."""
    postgres = connection.vendor == "postgresql"
    sql = _pg_sql(source) if postgres else _sqlite_sql(source)
    types = _PG_TYPES if postgres else _SQLITE_TYPES
    by_type: dict[tuple[str, str], dict[str, int]] = {}
    samples: dict[tuple[str, str], FieldSample] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for grp, path, typ, txt, count, distinct, seen in rows:
        key = (grp or "", path)
        sample = samples.setdefault(key, FieldSample(path=path))
        sample.seen, sample.distinct = int(seen), int(distinct)
        sample.values.append((str(txt), int(count)))
        kind = types.get(typ, "string")
        by_type.setdefault(key, {}).setdefault(kind, 0)
        by_type[key][kind] += int(count)
    for key, sample in samples.items():
        sample.value_type = max(by_type[key].items(), key=lambda item: item[1])[0]
        texts = [text for text, _count in sample.values]
        if sample.value_type == "string" and texts:
            dated = sum(1 for text in texts if _DATE_VALUE.match(text))
            if dated / len(texts) >= 0.9:
                sample.value_type = "date"
    return samples


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _id_filter(ids: Sequence[int]) -> tuple[str, list]:
    if connection.vendor == "postgresql":
        return "id = ANY(%s::bigint[])", [bigint_array(ids)]
    return "id IN (SELECT value FROM json_each(%s))", [dumps(list(ids))]


def _sources(
    *, profile_ids: Sequence[int] | None, event_ids: Sequence[int] | None, between=None
) -> dict[str, tuple[str, list]]:
    """The SQL (columns grp, doc) of each JSON column to read: the newest rows, or a batch's."""
    profiles, events = _table(Profile), _table(Event)
    if profile_ids is None:
        profile_where, profile_params = "", []
        profile_tail, profile_tail_params = "ORDER BY id DESC LIMIT %s", [PROFILE_SAMPLE]
    else:
        condition, profile_params = _id_filter(profile_ids)
        profile_where, profile_tail, profile_tail_params = f"WHERE {condition}", "", []
    if event_ids is None:
        event_where, event_params = "", []
        event_tail, event_tail_params = "ORDER BY id DESC LIMIT %s", [EVENT_SAMPLE]
    else:
        condition, event_params = _id_filter(event_ids)
        event_where = f"WHERE {condition}"
        if between is not None:
            # The resolved events' times let PostgreSQL read only those months' partitions.
            event_where += " AND timestamp BETWEEN %s AND %s"
            event_params = [*event_params, between[0], between[1]]
        event_tail, event_tail_params = "", []
    return {
        DataField.Kind.TRAIT: (
            f"SELECT '' AS grp, traits AS doc FROM {profiles} {profile_where} {profile_tail}",  # noqa: S608
            [*profile_params, *profile_tail_params],
        ),
        DataField.Kind.PROPERTY: (
            f"SELECT event AS grp, properties AS doc FROM {events} {event_where} {event_tail}",  # noqa: S608
            [*event_params, *event_tail_params],
        ),
        DataField.Kind.CONTEXT: (
            f"SELECT '' AS grp, context AS doc FROM {events} {event_where} {event_tail}",  # noqa: S608
            [*event_params, *event_tail_params],
        ),
        DataField.Kind.EVENT: (
            f"SELECT event, COUNT(*) FROM (SELECT event FROM {events} "  # noqa: S608
            f"{event_where + (' AND' if event_where else 'WHERE')} type = 'track' {event_tail}) e "
            "GROUP BY event",
            [*event_params, *event_tail_params],
        ),
    }


def _gather(**scope) -> dict[tuple[str, str, str], FieldSample]:
    """(kind, event, path) -> sample, for every JSON column and the track events' names."""
    found: dict[tuple[str, str, str], FieldSample] = {}
    sources = _sources(**scope)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # The planner's estimate of a recursive walk is large whatever the sample: it
                # would spend seconds compiling the query (JIT) to read a few rows.
                cursor.execute("SET LOCAL jit = off")
        _gather_into(found, sources)
    return found


def _gather_into(found: dict, sources: dict) -> None:
    for kind in (DataField.Kind.TRAIT, DataField.Kind.PROPERTY, DataField.Kind.CONTEXT):
        sql, params = sources[kind]
        for (grp, path), sample in _samples(sql, params).items():
            found[(kind.value, grp if kind == DataField.Kind.PROPERTY else "", path)] = sample
    sql, params = sources[DataField.Kind.EVENT]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for name, seen in cursor.fetchall():
            if name:
                found[(DataField.Kind.EVENT.value, name, "")] = FieldSample(
                    path="", value_type="event", seen=int(seen)
                )


def _verdict(key: tuple[str, str, str], sample: FieldSample, today: dt.date) -> classify.Verdict:
    kind, event, _path = key
    if kind == DataField.Kind.EVENT:
        return classify.Verdict(classify.NOT_PERSONAL, ("an event name",))
    return classify.classify_field(sample, today=today, owner=event)


def _common(sample: FieldSample, previous: Iterable = ()) -> list[list]:
    """The most common values with their counts; only values several records share are kept,
    so no value names one person."""
    counts: dict[str, int] = {}
    for text, count in [*previous, *sample.values]:
        counts[text] = counts.get(text, 0) + int(count)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_VALUES]
    return [[text, count] for text, count in ranked if count >= classify.CATEGORY_MIN_SHARED]


def _store(found: dict[tuple[str, str, str], FieldSample], *, full: bool) -> int:
    """Write what a scan found: new fields classified, known ones brought up to date (a person's
    class is never changed, an automatic one only made stricter or known); a full scan also
    drops automatic fields the data no longer holds. Returns how many rows changed."""
    now = timezone.now()
    today = timezone.localdate()
    if full:
        existing_rows = DataField.objects.all()
    else:
        paths = {path for _kind, _event, path in found}
        existing_rows = DataField.objects.filter(path__in=paths)
    existing = {(f.kind, f.event, f.path): f for f in existing_rows}
    new, changed = [], []
    for key, sample in found.items():
        kind = key[0]
        verdict = _verdict(key, sample, today)
        row = existing.get(key)
        if row is None:
            shown = verdict.classification == classify.NOT_PERSONAL
            new.append(
                DataField(
                    kind=kind,
                    event=key[1],
                    path=key[2],
                    value_type=sample.value_type,
                    seen=sample.seen,
                    common_values=_common(sample) if shown and kind != "event" else [],
                    classification=verdict.classification,
                    evidence=list(verdict.evidence),
                    first_seen_at=now,
                    refreshed_at=now,
                )
            )
            continue
        if row.classified_by == DataField.ClassifiedBy.AUTOMATIC and classify.stricter(
            row.classification, verdict.classification
        ):
            row.classification = verdict.classification
            row.evidence = list(verdict.evidence)
        row.seen = sample.seen if full else row.seen + sample.seen
        row.value_type = sample.value_type
        row.refreshed_at = now
        shown = row.classification == DataField.Classification.NOT_PERSONAL
        if kind == DataField.Kind.EVENT or not shown:
            row.common_values = []
        else:
            row.common_values = _common(sample, () if full else row.common_values)
        changed.append(row)
    with transaction.atomic():
        if full:
            stale = [row.pk for key, row in existing.items() if key not in found]
            DataField.objects.filter(
                pk__in=stale, classified_by=DataField.ClassifiedBy.AUTOMATIC
            ).delete()
        # Two batches may meet the same new key at once: the second one's row is dropped.
        DataField.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
        DataField.objects.bulk_update(
            changed,
            ["classification", "evidence", "seen", "value_type", "refreshed_at", "common_values"],
            batch_size=1000,
        )
    from .selectors import field_classes_forget

    field_classes_forget()
    return len(new) + len(changed)


def catalogue_refresh() -> int:
    """Bring the catalogue up to date with a sample of the newest profiles and events; returns
    the number of fields it holds."""
    _store(_gather(profile_ids=None, event_ids=None), full=True)
    return DataField.objects.count()


def catalogue_learn_batch(
    *, profile_ids: Sequence[int], event_ids: Sequence[int], between=None
) -> int:
    """Learn the fields of one resolved batch: one grouped query per JSON column over the batch's
    rows, and writes only for what is new or newly stricter. Returns the rows written."""
    if not profile_ids and not event_ids:
        return 0
    found = _gather(profile_ids=list(profile_ids), event_ids=list(event_ids), between=between)
    known = {
        (f.kind, f.event, f.path): f.classification
        for f in DataField.objects.filter(path__in={path for _k, _e, path in found})
        .filter(Q(kind__in=[k for k, _e, _p in found]))
        .only("kind", "event", "path", "classification")
    }
    today = timezone.localdate()
    # Only new keys, and known ones whose class the batch makes stricter, are written.
    wanted = {
        key: sample
        for key, sample in found.items()
        if key not in known
        or (
            known[key] != DataField.Classification.SENSITIVE
            and classify.stricter(known[key], _verdict(key, sample, today).classification)
        )
    }
    return _store(wanted, full=False) if wanted else 0
