"""Selector data -> Plotly figures for the profiles pages (pure functions).

Figures are plain Plotly JSON dicts, drawn in the page by `Plotly.newPlot` from the bundled
plotly.min.js: building `plotly.graph_objects` figures validates every property in Python, which
cost a fifth of the profile page's time.
"""

import datetime as dt
import itertools

from cdp_site.charts import WEEK_MS, count_axis, date_axis


def _week(value) -> dt.date:
    """The Monday a week bin starts on (`TruncWeek` gives a datetime, or a date)."""
    day = value.date() if isinstance(value, dt.datetime) else value
    return day - dt.timedelta(days=day.weekday())


def activity_weekly_figure(rows: list[dict]) -> dict | None:
    """Stacked bars: events per week (Monday to Sunday), one colour per source, every week
    between the first and the last shown (an empty week is a gap, not a wider bar), each bar a
    week wide. None when there are no events."""
    if not rows:
        return None
    by_source: dict[str, dict[dt.date, int]] = {}
    for row in rows:
        counts = by_source.setdefault(row["source"] or "unknown", {})
        week = _week(row["week"])
        counts[week] = counts.get(week, 0) + row["count"]
    weeks_seen = sorted({week for counts in by_source.values() for week in counts})
    first, last = weeks_seen[0], weeks_seen[-1]
    weeks = [first + dt.timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    totals = [sum(counts.get(week, 0) for counts in by_source.values()) for week in weeks]
    return {
        "data": [
            {
                "type": "bar",
                "name": source,
                "x": [week.isoformat() for week in weeks],
                "y": [counts.get(week, 0) for week in weeks],
                # Each bar drawn over its own week (Monday to Sunday), a week wide.
                "xperiod": WEEK_MS,
                "xperiod0": first.isoformat(),
                "xperiodalignment": "middle",
                "width": [WEEK_MS * 0.8] * len(weeks),
                "customdata": [week.isoformat() for week in weeks],
                "hovertemplate": "week of %{customdata}: %{y:,d} events<extra>"
                + source.replace("%", "%%")
                + "</extra>",
            }
            for source, counts in by_source.items()
        ],
        "layout": {
            "barmode": "stack",
            "height": 260,
            "margin": {"l": 48, "r": 10, "t": 10, "b": 40},
            "legend": {"orientation": "h", "y": -0.25},
            "yaxis": count_axis(totals, title="events per week"),
            "xaxis": date_axis(first, last + dt.timedelta(days=6), min_days=28),
        },
        "config": {"displayModeBar": False, "responsive": True},
    }


def distribution_figure(distribution: dict) -> dict | None:
    """A histogram of one computed trait's values (from `computed_sql.distribution`): bins of
    numbers, months of dates, or the most frequent values; None when nothing has a value."""
    counts = distribution.get("counts") or []
    if not counts or not sum(counts):
        return None
    if distribution.get("type") == "number":
        edges = distribution["edges"]
        x = [(low + high) / 2 for low, high in itertools.pairwise(edges)]
        width = [high - low for low, high in itertools.pairwise(edges)]
        trace = {
            "type": "bar",
            "x": x,
            "y": counts,
            "width": width,
            "customdata": [[low, high] for low, high in itertools.pairwise(edges)],
            "hovertemplate": "%{customdata[0]:,.2f} to %{customdata[1]:,.2f}: %{y} profiles"
            "<extra></extra>",
        }
        xaxis: dict = {"title": {"text": "value"}}
    else:
        trace = {"type": "bar", "x": distribution["labels"], "y": counts}
        xaxis = {
            "title": {"text": "month" if distribution.get("type") == "date" else "value"},
            "type": "category",
        }
    return {
        "data": [trace],
        "layout": {
            "height": 280,
            "bargap": 0.05,
            "margin": {"l": 50, "r": 10, "t": 10, "b": 50},
            "xaxis": xaxis,
            "yaxis": {"title": {"text": "profiles"}},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }


def events_per_day_figure(
    rows: list[dict], names: dict[str, str], *, link_of: dict[int, str] | None = None
) -> dict:
    """Stacked bars: events per day, one colour per source; with `link_of`, a click on a
    source's bar opens its page (where an admin acts on it)."""
    by_source: dict[int, tuple[list, list]] = {}
    for row in rows:
        days, counts = by_source.setdefault(row["source_id"], ([], []))
        days.append(row["day"])
        counts.append(row["count"])
    traces = []
    for source_id, (days, counts) in by_source.items():
        trace = {
            "type": "bar",
            "name": names.get(str(source_id), f"source {source_id}"),
            "x": days,
            "y": counts,
        }
        if link_of and source_id in link_of:
            trace["customdata"] = [link_of[source_id]] * len(days)
        traces.append(trace)
    return {
        "data": traces,
        "layout": {
            "barmode": "stack",
            "height": 280,
            "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
            "legend": {"orientation": "h", "y": -0.25},
            "yaxis": {"title": {"text": "events per day"}},
            "xaxis": {"type": "date"},
            "meta": {"click": "link"},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }


def new_profiles_weekly_figure(rows: list[dict], *, link: str | None = None) -> dict:
    """Bars: profiles first seen per week; with `link`, a click opens the customer search."""
    trace = {"type": "bar", "x": [r["week"] for r in rows], "y": [r["count"] for r in rows]}
    if link:
        trace["customdata"] = [link] * len(rows)
    return {
        "data": [trace],
        "layout": {
            "height": 260,
            "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
            "yaxis": {"title": {"text": "new profiles per week"}},
            "xaxis": {"type": "date"},
            "meta": {"click": "link"},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }
