"""RFM: recency, frequency and monetary quintile scores per customer, and their named groups.

A customer is a live profile with at least one `Order Completed` event up to the time of the run.
Per customer: recency is the time of the last order, frequency the number of orders, monetary the
sum of their numeric `revenue` (orders without one add nothing). Each measure is cut into five
equal groups with `NTILE(5)` over the customers ordered by the measure (then by profile id, so
the cut is deterministic); 5 is best (most recent, most orders, most revenue). Customers tied on
a measure share one score: the lowest quintile any of them reached, so two customers with the
same number of orders never get different frequency scores.

The named group comes from the recency and frequency scores (the customary R x F grid; monetary
is kept as a score of its own), see `GROUP_OF`.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction
from django.utils import timezone

from ..models import ScoreRun
from . import sql

KEYS = ("rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_group")

# The groups, best first, with what each says about the customer.
GROUPS: dict[str, str] = {
    "Champions": "Bought recently and often.",
    "Loyal": "Buy often; bought not long ago.",
    "Potential loyalists": "Recent customers with a few orders.",
    "New customers": "Bought very recently, for the first time or nearly.",
    "Promising": "Recent buyers with one order or two.",
    "Need attention": "Average on recency and frequency.",
    "About to sleep": "Bought a while ago, not often.",
    "At risk": "Bought often, but long ago.",
    "Cannot lose them": "Were among the most frequent buyers; have not bought for long.",
    "Hibernating": "Bought long ago and not often.",
    "Lost": "Lowest recency and frequency.",
}


def _group(recency: int, frequency: int) -> str:
    if recency == 5 and frequency >= 4:
        return "Champions"
    if recency in (3, 4) and frequency >= 4:
        return "Loyal"
    if recency >= 4 and frequency in (2, 3):
        return "Potential loyalists"
    if recency == 5 and frequency == 1:
        return "New customers"
    if recency == 4 and frequency == 1:
        return "Promising"
    if recency == 3 and frequency == 3:
        return "Need attention"
    if recency == 3 and frequency <= 2:
        return "About to sleep"
    if recency <= 2 and frequency == 5:
        return "Cannot lose them"
    if recency <= 2 and frequency in (3, 4):
        return "At risk"
    if recency == 1 and frequency == 1:
        return "Lost"
    return "Hibernating"


# (recency score, frequency score) -> group: every cell of the 5 x 5 grid.
GROUP_OF: dict[tuple[int, int], str] = {
    (r, f): _group(r, f) for r in range(1, 6) for f in range(1, 6)
}


def _group_case() -> str:
    whens = " ".join(
        f"WHEN r = {r} AND f = {f} THEN '{group}'" for (r, f), group in GROUP_OF.items()
    )
    return f"CASE {whens} END"


def _scored_select() -> str:
    """The customers' scores (`pid`, `r`, `f`, `mo`) as of the first parameter's time."""
    orders = sql.live_events("e.event = %s AND e.timestamp <= %s")
    revenue = sql.numeric_property("o.properties", "revenue")
    return f"""
        WITH per AS (
            SELECT o.pid, MAX(o.ts) AS last_at, COUNT(*) AS n, COALESCE(SUM({revenue}), 0) AS m
            FROM ({orders}) AS o
            JOIN profiles_profile p ON p.id = o.pid AND p.merged_into_id IS NULL
            GROUP BY o.pid
        ),
        tiles AS (
            SELECT pid, last_at, n, m,
                   NTILE(5) OVER (ORDER BY last_at, pid) AS rt,
                   NTILE(5) OVER (ORDER BY n, pid) AS ft,
                   NTILE(5) OVER (ORDER BY m, pid) AS mt
            FROM per
        )
        SELECT pid,
               MIN(rt) OVER (PARTITION BY last_at) AS r,
               MIN(ft) OVER (PARTITION BY n) AS f,
               MIN(mt) OVER (PARTITION BY m) AS mo
        FROM tiles
    """  # noqa: S608 - constant SQL


def _write(values: str, now: dt.datetime) -> tuple[list[dict], dict]:
    """Score into a temporary table, then merge into the computed values in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        if sql.on_postgresql():
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("DROP TABLE IF EXISTS rfm_scored")
        temporary = "TEMPORARY TABLE rfm_scored" + (
            " ON COMMIT DROP" if sql.on_postgresql() else ""
        )
        cursor.execute(
            f"CREATE {temporary} AS SELECT pid, r, f, mo FROM ({_scored_select()}) AS s",  # noqa: S608
            [sql.ORDER_EVENT, now],
        )
        cursor.execute(sql.remove_computed(KEYS, "rfm_scored"))
        source = f"SELECT pid, {values} AS vals, %s AS at FROM rfm_scored"  # noqa: S608
        cursor.execute(sql.merge_computed(source, KEYS), [now])
        cursor.execute("SELECT r, f, COUNT(*) FROM rfm_scored GROUP BY r, f")
        cells = [{"r": r, "f": f, "count": n} for r, f, n in cursor.fetchall()]
        cursor.execute("SELECT mo, COUNT(*) FROM rfm_scored GROUP BY mo")
        monetary = {str(mo): n for mo, n in cursor.fetchall()}
        if not sql.on_postgresql():
            cursor.execute("DROP TABLE rfm_scored")
    return cells, monetary


def rfm_recompute(*, now: dt.datetime | None = None) -> ScoreRun:
    """Score every customer and write the scores; returns the finished run."""
    now = now or timezone.now()
    started = time.monotonic()
    run = ScoreRun.objects.create(kind=ScoreRun.Kind.RFM, started_at=timezone.now())
    values = sql.json_object(
        {
            "rfm_recency": "r",
            "rfm_frequency": "f",
            "rfm_monetary": "mo",
            "rfm_group": _group_case(),
        }
    )
    try:
        cells, monetary = _write(values, now)
    except Exception as exc:
        run.status = ScoreRun.Status.FAILED
        run.finished_at = timezone.now()
        run.error = str(exc)[:2000]
        run.save()
        raise
    groups = dict.fromkeys(GROUPS, 0)
    for cell in cells:
        groups[GROUP_OF[(cell["r"], cell["f"])]] += cell["count"]
    run.status = ScoreRun.Status.DONE
    run.finished_at = timezone.now()
    run.duration_ms = round((time.monotonic() - started) * 1000)
    run.scored = sum(groups.values())
    run.details = {"as_of": now.isoformat(), "cells": cells, "groups": groups, "monetary": monetary}
    run.save()
    return run
