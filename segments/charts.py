"""Selector data -> Plotly figures (pure functions), rendered as HTML divs without a CDN."""

from __future__ import annotations

import datetime as dt
import json

import plotly.graph_objects as go
from django.utils.html import format_html, json_script

_LAYOUT = {
    "margin": {"l": 40, "r": 10, "t": 30, "b": 30},
    "height": 260,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}


def _html(figure: go.Figure, div_id: str) -> str:
    """A div the page's `static/js/charts.js` draws into, and the figure as JSON beside it.

    Not Plotly's own HTML: its inline script calls Plotly at once, and Plotly (4.8 MB) is
    loaded with `defer` so that the page shows before it is parsed.
    """
    plotly_json = json.loads(figure.to_json())
    # No mode bar: Plotly colours it with <style> rules it injects per chart, which the
    # Content-Security-Policy refuses.
    plotly_json["config"] = {"displayModeBar": False, "responsive": True}
    data_id = f"{div_id}-data"
    return format_html(
        '<div id="{}" data-chart="{}"></div>{}', div_id, data_id, json_script(plotly_json, data_id)
    )


def size_over_time(snapshots) -> str:
    """The size at each full computation; empty until there are two (one is a dot, no line)."""
    if len(snapshots) < 2:
        return ""
    figure = go.Figure(
        go.Scatter(
            x=[s.taken_at for s in snapshots],
            y=[s.size for s in snapshots],
            mode="lines+markers",
            name="members",
        )
    )
    figure.update_layout(title="Size over time", **_LAYOUT)
    return _html(figure, "chart-size")


def flow_per_day(flow: dict, *, days: int, today: dt.date) -> str:
    axis = [today - dt.timedelta(days=n) for n in range(days, -1, -1)]
    figure = go.Figure(
        [
            go.Bar(x=axis, y=[flow["entered"].get(d, 0) for d in axis], name="entered"),
            go.Bar(x=axis, y=[-flow["exited"].get(d, 0) for d in axis], name="exited"),
        ]
    )
    figure.update_layout(title="Entered and exited per day", barmode="relative", **_LAYOUT)
    return _html(figure, "chart-flow")
