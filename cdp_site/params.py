"""Values people send in addresses, forms and JSON, read once for every page and API: ids,
paging cursors, dates, numbers, and whether a text can be kept by the database at all.

Each reader answers None (or False) for anything it cannot take, so a page leaves that value
out instead of failing: `"²".isdigit()` is true but `int("²")` fails, an id past a bigint is no
row but an error in PostgreSQL, and PostgreSQL refuses NUL characters in any text.
"""

import datetime as dt
import math

# The largest id a bigint primary key holds.
MAX_ID = 2**63 - 1


def id_in_range(number: int) -> bool:
    """Whether a whole number can be a row id: addresses' `<int:...>` take any number of digits,
    and PostgreSQL refuses one past a bigint instead of finding no row."""
    return 0 < number <= MAX_ID


def positive_id(text: str) -> int | None:
    """A row id written in plain digits, or None."""
    text = text.strip()
    if text.isascii() and text.isdigit() and id_in_range(int(text)):
        return int(text)
    return None


def is_number(value: object) -> bool:
    """Whether a decoded JSON value is a number: an int or a float, never a bool (which Python
    counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_in_range(value: float, limit: float = math.inf) -> bool:
    """Whether a number is finite and smaller than `limit` in size.

    An int is finite however large (and `math.isfinite` cannot take one past a float's range).
    """
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return abs(value) < limit


def iso_date(text: str) -> dt.date | None:
    """A date written YYYY-MM-DD, or None."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def keyset_cursor(text: str) -> tuple[dt.datetime, int] | None:
    """The (time, id) of the last row of a page, written `<ISO time with zone>_<id>`, or None.

    The time comes back in UTC: Python reads offsets up to a day, PostgreSQL refuses one of 16
    hours or more. A time that falls outside the calendar once in UTC is no cursor.
    """
    stamp, _, pk = text.rpartition("_")
    row_id = positive_id(pk)
    if not stamp or row_id is None:
        return None
    try:
        at = dt.datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            return None
        return at.astimezone(dt.UTC), row_id
    except (ValueError, OverflowError):
        return None


def keyset_cursor_text(cursor: tuple[dt.datetime, int]) -> str:
    """`keyset_cursor`'s input for a cursor."""
    return f"{cursor[0].isoformat()}_{cursor[1]}"


def storable_text(text: str) -> bool:
    """Whether any database can keep and compare `text`: no NUL character, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
