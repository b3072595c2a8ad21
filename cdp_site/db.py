"""Raw SQL helpers shared by the apps: JSON-parameter statements, bulk insert and update, LIKE
patterns and the session settings of heavy queries.

On PostgreSQL a batch goes to the server as a single text parameter (orjson, in C) and is
unpacked there with `jsonb_array_elements`; an id list as one `'{1,2,3}'` literal cast to
`bigint[]`. Results come back as one `json_agg` text parsed by orjson. Django's client-side
binding would otherwise quote every element of a long IN list into the SQL text in Python, and
its loaders would turn every timestamp and JSON value into a Python object in Python: on the
resolver's and the tracking API's batches that cost more CPU than the statements themselves.

Statements run on Django's connection, in its transaction, with server-side binding: the batch
travels as a parameter, where Django's client-side binding would escape it into the SQL text in
Python and the server would parse it back out of the text. Errors surface as Django's
(`IntegrityError`, `OperationalError`) for the callers' retry logic. `select`, `execute` and
`fetchall` are PostgreSQL only; `rows_insert`, `rows_insert_returning_ids` and `rows_update`
take the portable path (the ORM's value conversion, plain statements) on other databases.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

import orjson
import psycopg
from django.db import OperationalError, connection, transaction
from django.db.models import Model
from psycopg.errors import QueryCanceled

from .errors import TooExpensiveError
from .jsonparse import loads


def dumps(value: Any) -> str:
    """`value` as JSON text; aware datetimes become ISO-8601, which PostgreSQL casts back."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # An integer beyond 64 bits or a non-string key, which only the standard library writes.
        return json.dumps(value, default=_isoformat)


def _isoformat(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def bigint_array(ids: Iterable[int]) -> str:
    """A `bigint[]` literal, for `%s::bigint[]`: one short parameter whatever the count."""
    return "{" + ",".join(map(str, ids)) + "}"


def timestamp(value: str | None) -> datetime | None:
    """A `timestamptz` as `json_agg` writes it -> aware datetime (the session time zone is UTC)."""
    return None if value is None else datetime.fromisoformat(value)


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


# -- PostgreSQL statements with server-side binding ----------------------------------------------


@contextmanager
def _cursor() -> Iterator[psycopg.Cursor]:
    """A server-side binding cursor on Django's connection, with the checks `cursor()` makes."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def select(
    sql: str, params: Sequence = (), *, order: str = "", timestamps: Sequence[str] = ()
) -> list[dict]:
    """The rows of a SELECT as dicts keyed by column name, read as one JSON value.

    `order` orders the aggregate (an ORDER BY inside the SELECT is not guaranteed to survive
    it). The `timestamps` columns come back as aware datetimes, other timestamps as ISO-8601
    text (see `timestamp`); JSON columns as Python values.
    """
    aggregate = f"json_agg(t ORDER BY {order})" if order else "json_agg(t)"
    with _cursor() as cursor:
        cursor.execute(f"SELECT coalesce({aggregate}, '[]')::text FROM ({sql}) AS t", params)  # noqa: S608 - callers' constant SQL
        rows = loads(cursor.fetchone()[0])
    for row in rows:
        for column in timestamps:
            row[column] = timestamp(row[column])
    return rows


def execute(sql: str, params: Sequence = ()) -> int:
    """Run a statement; returns its row count."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def fetchall(sql: str, params: Sequence = ()) -> list[tuple]:
    """Rows of plain columns (ints, text), which psycopg loads in C."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# -- bulk insert and update -------------------------------------------------------------------


def _pg_read(model: type[Model], column: str, index: int) -> str:
    """How `column` is read from element `index` of one row of a batch's JSON array."""
    db_type = model._meta.get_field(column).db_type(connection)
    if db_type == "jsonb":
        return f"r -> {index}"
    if db_type == "text" or db_type.startswith("varchar"):
        # No cast: assigning text to varchar(n) checks the length, where a cast would cut it.
        return f"r ->> {index}"
    return f"(r ->> {index})::{db_type}"


def _on_conflict(skip_conflicts: bool | Sequence[str]) -> str:
    if not skip_conflicts:
        return ""
    if skip_conflicts is True:
        return " ON CONFLICT DO NOTHING"
    quote = connection.ops.quote_name
    return f" ON CONFLICT ({', '.join(quote(c) for c in skip_conflicts)}) DO NOTHING"


@cache
def _pg_insert_sql(
    model: type[Model],
    columns: tuple[str, ...],
    constants: tuple[str, ...],
    skip_conflicts: bool | tuple[str, ...],
) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in (*columns, *constants))
    reads = [_pg_read(model, c, i) for i, c in enumerate(columns)] + ["%s"] * len(constants)
    if model._meta.pk.attname in columns:
        source = "jsonb_array_elements(%s::jsonb) AS r"
    else:
        # In list order, so new ids ascend as the rows were given, as bulk_create gives them.
        source = "jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(r, n) ORDER BY e.n"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608 - names are ours
        f"SELECT {', '.join(reads)} FROM {source}{_on_conflict(skip_conflicts)}"
    )


def rows_insert(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    constants: dict[str, Any] | None = None,
    skip_conflicts: bool | Sequence[str] = False,
) -> int:
    """Insert `rows` (values in `columns` order, JSON columns as Python values, times aware);
    returns how many were inserted.

    `constants` sets columns to the same value on every row. `skip_conflicts` leaves out a row
    that would break a unique constraint (ON CONFLICT DO NOTHING): any one with True, the one
    on these columns with a list of columns; otherwise such a row raises IntegrityError.
    Columns left out take their database default (NULL), not the model's. PostgreSQL: one
    statement whatever the count. Elsewhere: one `executemany`, atomic.
    """
    if not rows:
        return 0
    constants = constants or {}
    if on_postgresql():
        conflicts = skip_conflicts if isinstance(skip_conflicts, bool) else tuple(skip_conflicts)
        sql = _pg_insert_sql(model, tuple(columns), tuple(constants), conflicts)
        return execute(sql, [*constants.values(), dumps(rows)])
    return _portable_insert(model, columns, rows, constants, skip_conflicts)


@cache
def _pg_insert_once_sql(
    model: type[Model], columns: tuple[str, ...], constants: tuple[str, ...], key_model: type[Model]
) -> str:
    quote = connection.ops.quote_name
    key = [field.column for field in key_model._meta.pk_fields]
    names = ", ".join(quote(c) for c in (*columns, *constants))
    reads = [_pg_read(model, c, i) for i, c in enumerate(columns)] + ["%s"] * len(constants)
    # The key as the rows carry it: a column read from the row, or a constant parameter.
    key_reads = [_pg_read(model, c, columns.index(c)) if c in columns else "%s" for c in key]
    row_key = [(c, _pg_read(model, c, columns.index(c))) for c in key if c in columns]
    return (
        "WITH batch AS (SELECT DISTINCT ON "  # noqa: S608 - names are ours
        f"({', '.join(read for _, read in row_key)}) r, n "
        "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(r, n) "
        f"ORDER BY {', '.join(read for _, read in row_key)}, n), "
        f"fresh AS (INSERT INTO {quote(key_model._meta.db_table)} "
        f"({', '.join(quote(c) for c in key)}) SELECT {', '.join(key_reads)} FROM batch "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(quote(c) for c, _ in row_key)}) "
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
        f"SELECT {', '.join(reads)} FROM batch JOIN fresh ON "
        + " AND ".join(f"fresh.{quote(c)} = {read}" for c, read in row_key)
        + " ORDER BY batch.n"
    )


def rows_insert_once(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    key_model: type[Model],
    constants: dict[str, Any] | None = None,
) -> int:
    """Insert the `rows` whose key is new to `key_model`'s table, and the key with each
    (PostgreSQL); returns how many were inserted.

    For a table that cannot hold the unique constraint itself (a partitioned table whose key
    lacks the partition key): the key lives in a narrow table whose primary key is made of
    columns of `model` (among `columns` or `constants`). One statement: the new keys are
    inserted `ON CONFLICT DO NOTHING`, and only the rows whose key went in follow, so two
    sessions inserting one key store it once (the second waits for the first's commit, as
    on a unique index). A key repeated within `rows` is kept once, its first row.
    """
    if not rows:
        return 0
    constants = constants or {}
    sql = _pg_insert_once_sql(model, tuple(columns), tuple(constants), key_model)
    key = [field.column for field in key_model._meta.pk_fields]
    key_constants = [constants[c] for c in key if c not in columns]
    return execute(sql, [dumps(rows), *key_constants, *constants.values()])


def _portable_insert(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    constants: dict[str, Any],
    skip_conflicts: bool | Sequence[str],
) -> int:
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(c) for c in columns]
    fixed = tuple(
        model._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in constants.items()
    )
    names = ", ".join(quote(c) for c in (*columns, *constants))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608 - names are ours
        f"VALUES ({', '.join(['%s'] * (len(columns) + len(constants)))})"
        f"{_on_conflict(skip_conflicts)}"
    )
    params = [
        (
            *(
                field.get_db_prep_save(value, connection)
                for field, value in zip(fields, row, strict=True)
            ),
            *fixed,
        )
        for row in rows
    ]
    # Several statements: together or not at all. No savepoint inside a caller's transaction.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def ids_allocate(model: type[Model], count: int) -> list[int]:
    """`count` new ids of `model`'s table, ascending, as its inserts would have taken them."""
    return sorted(
        pk
        for (pk,) in fetchall(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
    )


def rows_insert_returning_ids(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    constants: dict[str, Any] | None = None,
) -> list[int]:
    """Insert `rows` as `rows_insert` does; returns their new ids, in `rows` order.

    On PostgreSQL the ids are taken from the sequence first, so that matching them to the rows
    never relies on RETURNING order. Elsewhere `bulk_create`, which also applies the model's
    own defaults and `auto_now` fields.
    """
    if not rows:
        return []
    constants = constants or {}
    if not on_postgresql():
        created = model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True)), **constants) for row in rows]
        )
        return [obj.pk for obj in created]
    ids = ids_allocate(model, len(rows))
    rows_insert(
        model,
        (model._meta.pk.attname, *columns),
        [(pk, *row) for pk, row in zip(ids, rows, strict=True)],
        constants=constants,
    )
    return ids


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of at most `size` items: statements on the portable paths take a
    bounded number of parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_update(
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    key: str = "",
    where: tuple[str, Sequence] = ("", ()),
) -> None:
    """Set `columns` of many rows, each to its own values: `rows` are (pk, *values).

    With `key` (a column name) the first value of a row is matched against that column instead
    of the primary key, and sets every row holding it.

    PostgreSQL gets one `UPDATE ... FROM jsonb_array_elements(batch)`, the whole batch one JSON
    parameter; other databases one `UPDATE ... FROM (VALUES ...)` per few hundred rows. Django's
    bulk_update builds a CASE expression per row, which costs more than the update itself.
    `where` = (condition on the table's columns, its parameters as PostgreSQL takes them)
    narrows the rows further on PostgreSQL, where on a partitioned table a condition on the
    partition key spares the look-up of every id in every partition. Other databases ignore it:
    it must never change which of `rows` are updated.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(key or model._meta.pk.column)
    if on_postgresql():
        condition, condition_params = where
        also = f" AND {condition}" if condition else ""
        reads = ", ".join(
            f"{_pg_read(model, name, i)} AS {quote(name)}" for i, name in enumerate(columns, 1)
        )
        execute(
            f"UPDATE {table} SET {', '.join(f'{quote(c)} = v.{quote(c)}' for c in columns)} "  # noqa: S608 - names are ours
            f"FROM (SELECT {_pg_read(model, key or model._meta.pk.attname, 0)} AS pk, {reads} "
            f"FROM jsonb_array_elements(%s::jsonb) AS r) AS v WHERE {table}.{pk} = v.pk{also}",
            [dumps(rows), *condition_params],
        )
        return
    fields = [model._meta.get_field(name) for name in columns]
    # SQLite names the columns of VALUES column1, column2...
    placeholder = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    assignments = ", ".join(f"{quote(c)} = v.column{n}" for n, c in enumerate(columns, start=2))
    with connection.cursor() as cursor:
        for chunk in chunks(rows, 3000 // (len(columns) + 1)):
            params: list = []
            for row in chunk:
                params.append(row[0])
                for model_field, value in zip(fields, row[1:], strict=True):
                    params.append(model_field.get_db_prep_value(value, connection))
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608 - names are ours
                f"FROM (VALUES {', '.join([placeholder] * len(chunk))}) AS v "
                f"WHERE {table}.{pk} = v.column1",
                params,
            )


# -- query text and session settings ----------------------------------------------------------


def like_escape(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (backslash is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@contextmanager
def heavy_query_transaction(*, timeout_ms: int | None = None) -> Iterator[None]:
    """A transaction tuned for heavy set-based queries (PostgreSQL; a plain one elsewhere).

    JIT compilation costs 100+ ms per query and never pays off for a sub-second count or a
    set-based refresh; a bit more work_mem keeps bitmap scans over the event table exact
    instead of lossy. With `timeout_ms`, each statement is cancelled after that long (see
    `is_statement_timeout`). `SET LOCAL`: the settings end with the transaction.
    """
    with transaction.atomic():
        if on_postgresql():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
                if timeout_ms is not None:
                    # SET takes no parameters; the value is an int of ours.
                    cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_ms))}")
        yield


def is_statement_timeout(error: BaseException) -> bool:
    """Whether a database error is a statement cancelled by `statement_timeout`."""
    return isinstance(error.__cause__, QueryCanceled)


@contextmanager
def time_limited(*, timeout_ms: int, message: str) -> Iterator[None]:
    """Run the block's statements in one transaction, each cancelled after `timeout_ms`; a
    cancelled one is answered as `TooExpensiveError(message)`, never a 500.

    For reads a person's request triggers on large tables (searches, live counts): a slow one
    must give up and say so, not hold a web worker until the server kills it.
    """
    try:
        with heavy_query_transaction(timeout_ms=timeout_ms):
            yield
    except OperationalError as error:
        if is_statement_timeout(error):
            raise TooExpensiveError(message) from None
        raise


def foreign_keys_drop(schema_editor, *, table: str, column: str) -> None:
    """Drop every database foreign key on `table.column` (PostgreSQL; a no-op elsewhere).

    For migrations that turn a relation into a plain id: the constraint is found by its column,
    whatever name it was generated with, in `pg_constraint` through Django's introspection.
    """
    db = schema_editor.connection
    if db.vendor != "postgresql":
        return
    with db.cursor() as cursor:
        constraints = db.introspection.get_constraints(cursor, table)
    for name, info in constraints.items():
        if info["foreign_key"] and info["columns"] == [column]:
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name(table)} "
                f"DROP CONSTRAINT {schema_editor.quote_name(name)}"
            )
