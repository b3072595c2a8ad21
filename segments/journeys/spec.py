"""What a funnel or a path asks, validated: steps, filters, period, window, segment.

Funnel semantics (shared by the SQL and the reference):
- A person enters on their first event of step 1 whose time is inside the period (UTC days
  `start`..`end`, both included).
- Step k (k >= 2) is reached at the first event of step k strictly after the time step k-1 was
  reached and at most `window_days` after the entry.
- Property filters on a step are those of segment event conditions (same operators, same
  matching of JSON values).
- With a segment, only its current members enter.

Path semantics: each person's anchor is their first event of the chosen name in the period; the
path is the `depth` events that follow it (or precede it) in time, inside the period, ties broken
by event id. Event names are the track event's name, else the message type (`page`, `identify`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cdp_site.errors import InvalidInputError

from ..definition import definition_problems

MIN_STEPS, MAX_STEPS = 2, 6
MAX_WINDOW_DAYS = 90
MAX_PERIOD_DAYS = 366
MAX_PATH_DEPTH = 4
DEFAULT_PERIOD_DAYS = 30


class JourneyError(InvalidInputError):
    """A funnel or path that cannot be asked; `field` names the offending input."""

    code = "invalid_journey"


@dataclass(frozen=True)
class Step:
    event: str
    where: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        """The first instant after the period."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Funnel:
    steps: tuple[Step, ...]
    period: Period
    window_days: int = 7
    segment_id: int | None = None

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(days=self.window_days)


@dataclass(frozen=True)
class Path:
    event: str
    period: Period
    direction: str = "next"  # or "previous"
    depth: int = 3
    segment_id: int | None = None
    # Events kept by name at each position; the rest are "Other".
    top: int = 8


def period_parse(start: object, end: object, *, today: dt.date) -> Period:
    """The period from ISO dates; the last 30 days by default."""

    def day(value: object, name: str, default: dt.date) -> dt.date:
        if value in (None, ""):
            return default
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise JourneyError(f"{value!r} is not a date (YYYY-MM-DD).", field=name) from None

    end_day = day(end, "end", today)
    start_day = day(start, "start", end_day - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    if start_day > end_day:
        raise JourneyError("The period starts after it ends.", field="start")
    if (end_day - start_day).days >= MAX_PERIOD_DAYS:
        raise JourneyError(f"A period is at most {MAX_PERIOD_DAYS} days.", field="start")
    return Period(start_day, end_day)


def step_parse(raw: object, index: int, *, personal: bool = True) -> Step:
    """A step from `{"event": name, "where": [property filters]}`; filters validated as a
    segment event condition's are (same operators, same messages)."""
    path = f"steps.{index}"
    if not isinstance(raw, dict) or not isinstance(raw.get("event"), str) or not raw["event"]:
        raise JourneyError("Choose an event for every step.", field=f"{path}.event")
    where = raw.get("where") or []
    condition = {"type": "event", "event": raw["event"][:200], "where": where}
    problems = definition_problems(
        {"match": "all", "conditions": [condition]}, segment_lookup=None, personal=personal
    )
    if problems:
        problem = problems[0]
        field_path = problem.path.replace("conditions.0", path, 1)
        raise JourneyError(problem.message, field=field_path)
    return Step(raw["event"][:200], tuple(where))


def funnel_parse(
    *,
    steps: object,
    start: object,
    end: object,
    window_days: object,
    segment_id: int | None,
    today: dt.date,
    personal: bool = True,
) -> Funnel:
    if not isinstance(steps, list) or not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise JourneyError(f"A funnel has {MIN_STEPS} to {MAX_STEPS} steps.", field="steps")
    parsed = tuple(step_parse(raw, i, personal=personal) for i, raw in enumerate(steps))
    try:
        window = int(window_days)
    except (TypeError, ValueError):
        raise JourneyError("The window is a number of days.", field="window_days") from None
    if not 1 <= window <= MAX_WINDOW_DAYS:
        raise JourneyError(
            f"The conversion window is 1 to {MAX_WINDOW_DAYS} days.", field="window_days"
        )
    period = period_parse(start, end, today=today)
    return Funnel(parsed, period, window, segment_id)


def path_parse(
    *,
    event: object,
    start: object,
    end: object,
    direction: object,
    depth: object,
    segment_id: int | None,
    today: dt.date,
) -> Path:
    if not isinstance(event, str) or not event:
        raise JourneyError("Choose an event.", field="event")
    if direction not in ("next", "previous"):
        raise JourneyError('Direction is "next" or "previous".', field="direction")
    try:
        steps = int(depth)
    except (TypeError, ValueError):
        raise JourneyError("Depth is a number of events.", field="depth") from None
    if not 1 <= steps <= MAX_PATH_DEPTH:
        raise JourneyError(f"Depth is 1 to {MAX_PATH_DEPTH} events.", field="depth")
    return Path(event[:200], period_parse(start, end, today=today), direction, steps, segment_id)
