"""Selector data -> Plotly figures (pure functions), rendered as HTML divs without a CDN."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

_LAYOUT = {
    "margin": {"l": 40, "r": 10, "t": 30, "b": 30},
    "height": 260,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}


def _html(figure: go.Figure, div_id: str) -> str:
    return figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def size_over_time(snapshots) -> str:
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
