"""The residual scan: after an erasure, search every text and JSON column of every table for the
subject's values, so the report proves what is left (nothing, outside the request itself).

Tables are found by introspection, not listed: on PostgreSQL every table of the schema (the
catalogue's text, varchar, char, json and jsonb columns; a partitioned table once, through its
parent), elsewhere every installed model's text and JSON fields. A table another app adds later
is searched without a change here. Values long enough are searched for as whole words in the
text (`cdp_site.erasure.subject_pattern`), shorter ones as whole column values.
"""

from dataclasses import dataclass

from django.apps import apps
from django.db import connection, models

from cdp_site.erasure import FREE_TEXT_MIN_LENGTH, Subject, subject_pattern

COLUMNS_SQL = """
SELECT c.relname, a.attname, t.typname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = current_schema()
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND t.typname IN ('text', 'varchar', 'bpchar', 'json', 'jsonb')
ORDER BY c.relname, a.attnum
"""

TEXT_TYPES = ("text", "varchar", "bpchar")


@dataclass(frozen=True)
class Exclusion:
    """Rows the scan leaves out: the request's own (`table`.`column` = `value`)."""

    table: str
    column: str
    value: int


def _columns() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(COLUMNS_SQL)
            for table, column, type_name in cursor.fetchall():
                tables.setdefault(table, []).append((column, type_name))
        return tables
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if isinstance(field, models.JSONField):
                kind = "json"
            elif isinstance(field, models.CharField | models.TextField):
                kind = "text"
            else:
                continue
            tables.setdefault(model._meta.db_table, []).append((field.column, kind))
    return tables


def residual_scan(subject: Subject, exclusions: tuple[Exclusion, ...] = ()) -> dict:
    """{"tables", "columns", "found": [{"table", "column", "rows"}], "clean"}."""
    pattern = subject_pattern(subject)
    short = sorted({v.lower() for v in subject.values if len(v) < FREE_TEXT_MIN_LENGTH})
    quote = connection.ops.quote_name
    regex = "~*" if connection.vendor == "postgresql" else "REGEXP"
    regex_value = pattern if connection.vendor == "postgresql" else f"(?i){pattern}"
    tables = _columns()
    found = []
    columns_scanned = 0
    for table, columns in sorted(tables.items()):
        tests, params = [], []
        for column, type_name in columns:
            parts, part_params = [], []
            text = f"CAST({quote(column)} AS TEXT)"
            if pattern is not None:
                parts.append(f"{text} {regex} %s")
                part_params.append(regex_value)
            if short and type_name in (*TEXT_TYPES, "text"):
                parts.append(f"LOWER({text}) IN ({', '.join(['%s'] * len(short))})")
                part_params.extend(short)
            if parts:
                tests.append((column, " OR ".join(parts), part_params))
        if not tests:
            continue
        columns_scanned += len(tests)
        where, where_params = [], []
        for exclusion in exclusions:
            if exclusion.table == table:
                where.append(f"{quote(exclusion.column)} IS DISTINCT FROM %s")
                where_params.append(exclusion.value)
        counts = ", ".join(f"SUM(CASE WHEN {test} THEN 1 ELSE 0 END)" for _c, test, _p in tests)
        sql = f"SELECT {counts} FROM {quote(table)}"  # noqa: S608 - names from the catalogue, quoted
        if where:
            sql += " WHERE " + " AND ".join(where)
        params = [value for _c, _t, test_params in tests for value in test_params] + where_params
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        for (column, _t, _p), rows in zip(tests, row, strict=True):
            if rows:
                found.append({"table": table, "column": column, "rows": int(rows)})
    return {
        "tables": len(tables),
        "columns": columns_scanned,
        "found": found,
        "clean": not found,
    }
