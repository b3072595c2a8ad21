"""Selector data -> Plotly figures for the profiles pages (pure functions).

Figures are plain Plotly JSON dicts, drawn in the page by `Plotly.newPlot` from the bundled
plotly.min.js: building `plotly.graph_objects` figures validates every property in Python, which
cost a fifth of the profile page's time.
"""

import datetime as dt
import itertools


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
