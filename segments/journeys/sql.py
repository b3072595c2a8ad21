"""The one query module of journeys: funnels and paths in set-based SQL (PostgreSQL and SQLite).

The events of each step are an ORM queryset (so property filters are the segment compiler's own
`JsonTest`, and events of merged-away profiles count for the live profile their link names);
their SQL is composed here into one statement of common table expressions, so the database
finds each person's entry and each next step in one pass per step, never a query per person.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db import connection
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf

from profiles.models import Event
from profiles.selectors import profile_links_exist

from ..compiler import JsonTest
from ..definition import NEGATIVE_OPERATORS
from ..models import SegmentMembership
from .spec import Funnel, Path, Step

END = "(end)"
START = "(start)"
OTHER = "Other"


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _step_q(step: Step, today: dt.date) -> Q:
    q = Q(event=step.event)
    for item in step.where:
        operator = item["operator"]
        test = Q(
            JsonTest(
                "properties",
                item["property"],
                NEGATIVE_OPERATORS.get(operator, operator),
                item.get("value"),
                today,
                strict=operator in NEGATIVE_OPERATORS,
            )
        )
        q &= ~test if operator in NEGATIVE_OPERATORS else test
    return q


def _events(q: Q, start: dt.datetime, end: dt.datetime, linked: bool) -> QuerySet:
    """(`pid`, `ts`, `eid`, `label`) of the events matching `q` in [start, end)."""
    events = Event.objects.filter(q, timestamp__gte=start, timestamp__lt=end, profile__isnull=False)
    pid = Coalesce("profile_link__live_id", "profile_id") if linked else F("profile_id")
    # An empty event name (page, identify...) reads as the message type.
    label = Coalesce(NullIf("event", Value("")), F("type"))
    return events.order_by().values(pid=pid, ts=F("timestamp"), eid=F("id"), label=label)


def _compiled(queryset: QuerySet) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _members(segment_id: int) -> tuple[str, list]:
    members = SegmentMembership.objects.filter(
        segment_id=segment_id, exited_at__isnull=True
    ).values("profile_id")
    return _compiled(members)


def _within(later: str, earlier: str) -> str:
    """`later` at most the window parameter after `earlier`."""
    if _postgresql():
        return f"{later} <= {earlier} + %s"
    return f"julianday({later}) <= julianday({earlier}) + %s"


def _seconds(earlier: str, later: str) -> str:
    if _postgresql():
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _window_param(window: dt.timedelta):
    return window if _postgresql() else window.total_seconds() / 86400.0


def _funnel_ctes(funnel: Funnel, linked: bool | None) -> tuple[str, list]:
    """`WITH s1 AS (...), s2 AS (...)...`: per step k, `sk` holds (`pid`, `t`) of the people
    who reached it and when."""
    linked = profile_links_exist() if linked is None else linked
    today = funnel.period.end
    start, entry_end = funnel.period.start_at, funnel.period.end_at
    last = entry_end + funnel.window
    ctes, params = [], []
    entry_sql, entry_params = _compiled(
        _events(_step_q(funnel.steps[0], today), start, entry_end, linked)
    )
    member_filter = ""
    if funnel.segment_id is not None:
        members_sql, members_params = _members(funnel.segment_id)
        member_filter = f"WHERE e.pid IN ({members_sql})"
        entry_params += members_params
    ctes.append(
        f"s1 AS (SELECT e.pid, MIN(e.ts) AS t FROM ({entry_sql}) e {member_filter} GROUP BY e.pid)"
    )
    params += entry_params
    for k, step in enumerate(funnel.steps[1:], start=2):
        step_sql, step_params = _compiled(_events(_step_q(step, today), start, last, linked))
        ctes.append(
            f"s{k} AS (SELECT p.pid, MIN(e.ts) AS t FROM s{k - 1} p JOIN s1 ON s1.pid = p.pid "
            f"JOIN ({step_sql}) e ON e.pid = p.pid AND e.ts > p.t AND {_within('e.ts', 's1.t')} "
            "GROUP BY p.pid)"
        )
        params += [*step_params, _window_param(funnel.window)]
    return "WITH " + ", ".join(ctes), params


def funnel_query(funnel: Funnel, *, linked: bool | None = None) -> tuple[str, list]:
    """One statement answering the funnel: a row per step with `step`, `reached` and
    `median_seconds` (from the step before; NULL for the first and when nobody got there)."""
    ctes, params = _funnel_ctes(funnel, linked)
    selects = ["SELECT 1 AS step, (SELECT COUNT(*) FROM s1) AS reached, NULL AS median_seconds"]
    for k in range(2, len(funnel.steps) + 1):
        gaps = f"SELECT {_seconds('a.t', 'b.t')} AS d FROM s{k} b JOIN s{k - 1} a ON a.pid = b.pid"
        median = (
            "SELECT AVG(d) FROM (SELECT d, ROW_NUMBER() OVER (ORDER BY d) AS rn, "
            f"COUNT(*) OVER () AS c FROM ({gaps}) g) m WHERE rn IN ((c + 1) / 2, (c + 2) / 2)"
        )
        selects.append(
            f"SELECT {k} AS step, (SELECT COUNT(*) FROM s{k}) AS reached, ({median}) AS median_seconds"  # noqa: E501
        )
    sql = ctes + " " + " UNION ALL ".join(selects) + " ORDER BY step"
    return sql, params


def funnel_run(funnel: Funnel) -> list[dict]:
    """Per step: `reached`, `median_seconds` from the step before."""
    sql, params = funnel_query(funnel)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        {
            "step": step,
            "reached": int(reached),
            "median_seconds": None if median is None else float(median),
        }
        for step, reached, median in rows
    ]


def funnel_dropped_query(funnel: Funnel, step: int) -> tuple[str, list]:
    """The ids of the people who reached `step` (1-based) and not the step after it."""
    ctes, params = _funnel_ctes(funnel, None)
    return (
        f"{ctes} SELECT pid FROM s{step} WHERE NOT EXISTS "
        f"(SELECT 1 FROM s{step + 1} n WHERE n.pid = s{step}.pid)",
        params,
    )


def path_query(path: Path, *, linked: bool | None = None) -> tuple[str, list]:
    """One statement: (`position`, `source`, `target`, `people`): how many people had event
    `source` at position - 1 and `target` at `position` (1..depth) after (or before) their
    anchor; position 0 is the anchor itself, and its row counts the anchors."""
    linked = profile_links_exist() if linked is None else linked
    start, end = path.period.start_at, path.period.end_at
    anchor_sql, anchor_params = _compiled(_events(Q(event=path.event), start, end, linked))
    member_filter = ""
    if path.segment_id is not None:
        members_sql, members_params = _members(path.segment_id)
        member_filter = f"WHERE e.pid IN ({members_sql})"
        anchor_params += members_params
    all_sql, all_params = _compiled(_events(Q(), start, end, linked))
    after = path.direction == "next"
    compare = (
        "(e.ts > a.t OR (e.ts = a.t AND e.eid > a.eid))"
        if after
        else "(e.ts < a.t OR (e.ts = a.t AND e.eid < a.eid))"
    )
    order = "e.ts, e.eid" if after else "e.ts DESC, e.eid DESC"
    sql = f"""
        WITH firsts AS (
            SELECT e.pid, e.ts AS t, e.eid,
                   ROW_NUMBER() OVER (PARTITION BY e.pid ORDER BY e.ts, e.eid) AS rn
            FROM ({anchor_sql}) e {member_filter}
        ),
        anchors AS (SELECT pid, t, eid FROM firsts WHERE rn = 1),
        around AS (
            SELECT a.pid, e.label AS name,
                   ROW_NUMBER() OVER (PARTITION BY a.pid ORDER BY {order}) AS position
            FROM anchors a JOIN ({all_sql}) e ON e.pid = a.pid AND {compare}
        ),
        steps AS (
            SELECT position, name,
                   LAG(name) OVER (PARTITION BY pid ORDER BY position) AS source
            FROM around WHERE position <= %s
        )
        SELECT position, COALESCE(source, %s) AS source, name AS target, COUNT(*) AS people
        FROM steps GROUP BY position, COALESCE(source, %s), name
        UNION ALL SELECT 0, %s, %s, (SELECT COUNT(*) FROM anchors)
    """
    event = path.event
    return sql, [*anchor_params, *all_params, path.depth, event, event, event, event]


def path_run(path: Path) -> dict:
    """The path's transitions per position, the rarest names folded (see `path_fold`)."""
    sql, params = path_query(path)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return path_fold([(int(p), s, t, int(c)) for p, s, t, c in rows], path)


def path_fold(rows: list[tuple[int, str, str, int]], path: Path) -> dict:
    """(position, source, target, people) rows -> the links of the Sankey diagram.

    At each position the `top` most common events keep their names and the rest become
    "Other"; people who had an event at the position before and none at this one go to
    "(end)" (or "(start)" looking back) and are not followed further. Shared by the SQL and the
    reference answers, so both are folded alike.
    """
    anchors = next((c for p, _s, _t, c in rows if p == 0), 0)
    links: Counter = Counter()
    present: Counter = Counter({path.event: anchors})  # people at each node of the last position
    for position in range(1, path.depth + 1):
        here = [(s, t, c) for p, s, t, c in rows if p == position]
        totals: Counter = Counter()
        for _s, t, c in here:
            totals[t] += c
        keep = {
            name for name, _c in sorted(totals.items(), key=lambda i: (-i[1], i[0]))[: path.top]
        }
        previous_keep = set(present)
        step: Counter = Counter()
        for s, t, c in here:
            source = s if s in previous_keep else OTHER
            step[(source, t if t in keep else OTHER)] += c
        leaving = END if path.direction == "next" else START
        for source, people in present.items():
            stayed = sum(c for (s, _t), c in step.items() if s == source)
            if people - stayed:
                step[(source, leaving)] += people - stayed
        present = Counter()
        for (source, target), c in step.items():
            links[(position, source, target)] += c
            if target not in (END, START):
                present[target] += c
    return {
        "anchors": anchors,
        "links": [
            {"position": p, "source": s, "target": t, "people": c}
            for (p, s, t), c in sorted(links.items(), key=lambda i: (i[0][0], -i[1], i[0][1:]))
        ],
    }
