"""The plain-Python reference of the journeys' answers, over a list of events in memory.

Written for clarity, not speed: the tests give the same events to the database and to this
module and compare the answers (see `segments.journeys.spec` for the semantics). Property filters
here support the exact tests (`equals`, `not_equals`, `is_set`, `is_not_set`), matching strings
ignoring case and numbers exactly, as the segment compiler does.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field

from .spec import Funnel, Path, Step
from .sql import path_fold


@dataclass(frozen=True)
class Ev:
    pid: int
    ts: dt.datetime
    name: str
    eid: int
    properties: dict = field(default_factory=dict)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equals(actual: object, expected: object) -> bool:
    if isinstance(expected, str):
        return isinstance(actual, str) and actual.lower() == expected.lower()
    return _is_number(actual) and _is_number(expected) and actual == expected


def _passes(event: Ev, step: Step) -> bool:
    if event.name != step.event:
        return False
    for item in step.where:
        key, operator = item["property"], item["operator"]
        present = key in event.properties and event.properties[key] is not None
        if operator == "equals":
            ok = _equals(event.properties.get(key), item["value"])
        elif operator == "not_equals":
            ok = not _equals(event.properties.get(key), item["value"])
        elif operator == "is_set":
            ok = present
        elif operator == "is_not_set":
            ok = not present
        else:
            raise ValueError(f"The reference does not implement {operator!r}.")
        if not ok:
            return False
    return True


def funnel_answer(events: list[Ev], funnel: Funnel, members: set[int] | None = None) -> list[dict]:
    start, entry_end = funnel.period.start_at, funnel.period.end_at
    last = entry_end + funnel.window
    by_person: dict[int, list[Ev]] = {}
    for event in sorted(events, key=lambda e: (e.ts, e.eid)):
        by_person.setdefault(event.pid, []).append(event)
    reached = [0] * len(funnel.steps)
    gaps: list[list[float]] = [[] for _ in funnel.steps]
    for pid, own in by_person.items():
        if members is not None and pid not in members:
            continue
        entries = [e for e in own if start <= e.ts < entry_end and _passes(e, funnel.steps[0])]
        if not entries:
            continue
        entry = entries[0].ts
        reached[0] += 1
        at = entry
        for k, step in enumerate(funnel.steps[1:], start=1):
            nexts = [
                e.ts
                for e in own
                if e.ts > at and e.ts <= entry + funnel.window and e.ts < last and _passes(e, step)
            ]
            if not nexts:
                break
            gaps[k].append((nexts[0] - at).total_seconds())
            at = nexts[0]
            reached[k] += 1
    return [
        {
            "step": k + 1,
            "reached": reached[k],
            "median_seconds": statistics.median(gaps[k]) if gaps[k] else None,
        }
        for k in range(len(funnel.steps))
    ]


def path_answer(events: list[Ev], path: Path, members: set[int] | None = None) -> dict:
    start, end = path.period.start_at, path.period.end_at
    inside = sorted((e for e in events if start <= e.ts < end), key=lambda e: (e.ts, e.eid))
    rows: Counter = Counter()
    anchors = 0
    for pid in {e.pid for e in inside}:
        if members is not None and pid not in members:
            continue
        own = [e for e in inside if e.pid == pid]
        firsts = [i for i, e in enumerate(own) if e.name == path.event]
        if not firsts:
            continue
        anchors += 1
        i = firsts[0]
        around = own[i + 1 :] if path.direction == "next" else list(reversed(own[:i]))
        source = path.event
        for position, event in enumerate(around[: path.depth], start=1):
            rows[(position, source, event.name)] += 1
            source = event.name
    flat = [(p, s, t, c) for (p, s, t), c in rows.items()] + [(0, path.event, path.event, anchors)]
    return path_fold(flat, path)
