"""Selector data -> Plotly figures for the profiles pages (pure functions).

Figures are plain Plotly JSON dicts, drawn in the page by `Plotly.newPlot` from the bundled
plotly.min.js: building `plotly.graph_objects` figures validates every property in Python, which
cost a fifth of the profile page's time.
"""

import datetime as dt


def activity_weekly_figure(rows: list[dict]) -> dict:
    """Stacked bars: events per week, one colour per source."""
    by_source: dict[str, tuple[list, list]] = {}
    for row in rows:
        weeks, counts = by_source.setdefault(row["source"] or "unknown", ([], []))
        week = row["week"]
        weeks.append(week.date().isoformat() if isinstance(week, dt.datetime) else str(week))
        counts.append(row["count"])
    return {
        "data": [
            {"type": "bar", "name": source, "x": weeks, "y": counts}
            for source, (weeks, counts) in by_source.items()
        ],
        "layout": {
            "barmode": "stack",
            "height": 260,
            "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
            "legend": {"orientation": "h", "y": -0.25},
            "yaxis": {"title": {"text": "events per week"}},
            "xaxis": {"type": "date"},
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
