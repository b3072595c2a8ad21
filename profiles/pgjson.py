"""One JSON text each way: how hot PostgreSQL paths send a batch to the server and read one back.

A batch goes to the server as a single text parameter (orjson, in C) and is unpacked there with
`jsonb_array_elements`; an id list as one `'{1,2,3}'` literal cast to `bigint[]`. Results come
back as one `json_agg` text parsed by orjson. Django's client-side binding would otherwise quote
every element of a long IN list into the SQL text in Python, and its loaders would turn every
timestamp and JSON value into a Python object in Python: on the resolver's batches that cost
more CPU than the statements themselves.

Statements run on Django's connection, in its transaction, with server-side binding: the batch
travels as a parameter, where Django's client-side binding would escape it into the SQL text in
Python and the server would parse it back out of the text. Errors surface as Django's
(`IntegrityError`, `OperationalError`) for the callers' retry logic. PostgreSQL only: callers
keep their ORM path for other databases.
"""

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from django.db import connection

# orjson reads integers beyond 64 bits as floats, where the standard library keeps them exact:
# a text with a run of 19 digits or more (rare: ids inside strings, long decimals) is read by
# the standard library instead, so values are the same as through the ORM. Found by mapping
# every digit to "0" and searching for the run, several times faster than a regular expression.
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19


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


def has_long_number(data: bytes) -> bool:
    """Whether JSON `data` may hold a number orjson would read differently from the standard
    library (a run of 19 digits or more, inside a string or not)."""
    return _LONG_NUMBER in data.translate(_DIGITS_TO_ZERO)


def loads(text: str | bytes, *, strict: bool = False) -> Any:
    """Parse JSON text exactly as `json.loads` would, at orjson's speed where that is the same.

    The standard library also takes what orjson refuses but is JSON (a lone surrogate escape,
    a number beyond a double's range). `strict` refuses, as ValueError, what is not JSON but
    the standard library would take: NaN, Infinity, and numbers too large for a float.
    """
    data = text if isinstance(text, bytes) else text.encode()
    if not has_long_number(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    if strict:
        return json.loads(data, parse_float=_finite_float, parse_constant=_not_json)
    return json.loads(data)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON value")


def bigint_array(ids: Iterable[int]) -> str:
    """A `bigint[]` literal, for `%s::bigint[]`: one short parameter whatever the count."""
    return "{" + ",".join(map(str, ids)) + "}"


def timestamp(value: str | None) -> datetime | None:
    """A `timestamptz` as `json_agg` writes it -> aware datetime (the session time zone is UTC)."""
    return None if value is None else datetime.fromisoformat(value)


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
