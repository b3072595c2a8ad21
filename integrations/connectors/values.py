"""Reading the values web services send: ISO-8601 times, decimal strings, optional fields."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object) -> datetime | None:
    """An aware datetime from an ISO-8601 string (a trailing Z allowed; naive means UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def money(value: object) -> float | None:
    """A decimal string (how shops send amounts) or a number as a float, or None."""
    if type(value) is str:  # the common case, first: this runs for every amount of every record
        try:
            return float(value)
        except ValueError:
            return None
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def id_text(value: object) -> str | None:
    """A service's id (a number or a string) as text, or None when absent."""
    if type(value) is int:  # the common case, first: this runs for every id of every record
        return str(value)
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def drop_none(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}
