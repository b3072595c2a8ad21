"""Values people send in addresses and forms, read once for every page: ids, paging cursors,
dates, and whether a text can be kept by the database at all.

Each reader answers None (or False) for anything it cannot take, so a page leaves that value
out instead of failing: `"²".isdigit()` is true but `int("²")` fails, an id past a bigint is no
row but an error in PostgreSQL, and PostgreSQL refuses NUL characters in any text.
"""

import datetime as dt

# The largest id a bigint primary key holds.
MAX_ID = 2**63 - 1


def positive_id(text: str) -> int | None:
    """A row id written in plain digits, or None."""
    text = text.strip()
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


def iso_date(text: str) -> dt.date | None:
    """A date written YYYY-MM-DD, or None."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def keyset_cursor(text: str) -> tuple[dt.datetime, int] | None:
    """The (time, id) of the last row of a page, written `<ISO time with zone>_<id>`, or None."""
    stamp, _, pk = text.rpartition("_")
    row_id = positive_id(pk)
    if not stamp or row_id is None:
        return None
    try:
        at = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (at, row_id) if at.tzinfo is not None else None


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
