"""Chart axes every page shares: dates that read as dates, counts that read as whole numbers.

Pure functions returning Plotly axis dicts, used by the apps' `charts.py` modules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

DAY_MS = 24 * 60 * 60 * 1000
WEEK_MS = 7 * DAY_MS


def date_axis(first: dt.date, last: dt.date, *, min_days: int = 7) -> dict:
    """A date axis over whole days from `first` to `last`, at least `min_days` wide (so a
    single day is a bar among days, not a bar filling an axis of milliseconds)."""
    span = (last - first).days
    if span < min_days:
        pad = (min_days - span) / 2
        start = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=pad)
        end = dt.datetime.combine(last, dt.time()) + dt.timedelta(days=pad)
    else:
        start = dt.datetime.combine(first, dt.time()) - dt.timedelta(hours=12)
        end = dt.datetime.combine(last, dt.time()) + dt.timedelta(hours=12)
    width = (end - start).days
    return {
        "type": "date",
        "range": [start.isoformat(), end.isoformat()],
        "tick0": first.isoformat(),
        "tickformat": "%b %-d" if width <= 366 else "%b %Y",
        # A tick per day over a week or two, per week over a few months, else Plotly's months.
        **({"dtick": DAY_MS} if width <= 14 else {"dtick": WEEK_MS} if width <= 120 else {}),
        "hoverformat": "%a %b %-d, %Y",
    }


def count_axis(values: Sequence[int], *, title: str = "") -> dict:
    """A count axis from zero (or below, for negative bars) with whole-number ticks only."""
    low, high = min([0, *values]), max([0, *values])
    axis = {
        "tickformat": ",d",
        "rangemode": "tozero",
        "range": [low * 1.1 if low else 0, max(high * 1.1, 1)],
        "zeroline": True,
    }
    if high - low <= 5:
        axis["dtick"] = 1
    if title:
        axis["title"] = {"text": title}
    return axis
