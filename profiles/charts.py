"""Selector data -> Plotly figures for the profiles pages (pure functions)."""

import plotly.graph_objects as go


def activity_weekly_figure(rows: list[dict]) -> go.Figure:
    """Stacked bars: events per week, one colour per source."""
    by_source: dict[str, tuple[list, list]] = {}
    for row in rows:
        weeks, counts = by_source.setdefault(row["source"] or "unknown", ([], []))
        weeks.append(row["week"])
        counts.append(row["count"])
    figure = go.Figure(
        [go.Bar(name=source, x=weeks, y=counts) for source, (weeks, counts) in by_source.items()]
    )
    figure.update_layout(
        barmode="stack",
        height=260,
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.25},
        yaxis_title="events per week",
    )
    return figure


def figure_html(figure: go.Figure, div_id: str) -> str:
    """The figure as a <div> plus its script; Plotly itself is loaded once by the page."""
    return figure.to_html(
        include_plotlyjs=False, full_html=False, div_id=div_id, config={"displayModeBar": False}
    )
