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
