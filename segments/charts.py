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
    plotly_json["config"] = {"displaylogo": False, "responsive": True}
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


def segment_sizes_figure(segments: list[dict], links: dict[int, str]) -> dict:
    """Horizontal bars: the largest segments; a click opens the segment."""
    ordered = list(reversed(segments))
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [s["name"] for s in ordered],
                "x": [s["size"] for s in ordered],
                "customdata": [links[s["id"]] for s in ordered],
                "hovertemplate": "%{y}: %{x} members<extra></extra>",
            }
        ],
        "layout": {
            "height": 60 + 28 * len(segments),
            "margin": {"l": 180, "r": 10, "t": 10, "b": 30},
            "meta": {"click": "link"},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }


def segment_trends_figure(segments: list[dict], links: dict[int, str]) -> dict:
    """One line per segment: its size after each full refresh of the last 30 days."""
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": s["name"],
                "x": [point[0] for point in s["trend"]],
                "y": [point[1] for point in s["trend"]],
                "customdata": [links[s["id"]]] * len(s["trend"]),
            }
            for s in segments
            if s["trend"]
        ],
        "layout": {
            "height": 280,
            "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
            "legend": {"orientation": "h", "y": -0.25},
            "xaxis": {"type": "date"},
            "yaxis": {"title": {"text": "members"}},
            "meta": {"click": "link"},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }
