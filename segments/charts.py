"""Selector data -> Plotly figures (pure functions), rendered as HTML divs without a CDN.

Figures are plain Plotly JSON dicts (as the profiles app's are), built by `*_figure` functions
that tests read, with day bins, date axes that read as dates, whole-number counts, and None
where there is nothing to draw: the page shows an empty state instead of an empty chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils.html import format_html, json_script

from cdp_site.charts import count_axis, date_axis

_LAYOUT = {
    "margin": {"l": 48, "r": 10, "t": 20, "b": 40},
    "height": 260,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "legend": {"orientation": "h", "y": -0.2},
}


def size_over_time_figure(snapshots: Sequence, *, today: dt.date | None = None) -> dict | None:
    """The size at the last computation of each day; a gap (and an "edited" mark) where the
    definition changed, so no line joins the sizes of two different definitions. None when
    there is no computation yet."""
    if not snapshots:
        return None
    points: list[tuple[dt.date, int, str]] = []
    for snapshot in sorted(snapshots, key=lambda s: s.taken_at):
        day, digest = snapshot.taken_at.date(), snapshot.definition_digest
        if points and points[-1][0] == day and _same_definition(points[-1][2], digest):
            points[-1] = (day, snapshot.size, digest or points[-1][2])
        else:
            points.append((day, snapshot.size, digest))
    xs: list[str | None] = []
    ys: list[int | None] = []
    edits: list[str] = []
    for index, (day, size, digest) in enumerate(points):
        if index and not _same_definition(points[index - 1][2], digest):
            # A None point breaks the line; the edit is marked where the new size starts.
            xs.append(day.isoformat())
            ys.append(None)
            edits.append(day.isoformat())
        xs.append(day.isoformat())
        ys.append(size)
    first, last = points[0][0], max(points[-1][0], today or points[-1][0])
    sizes = [size for _, size, _ in points]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "members",
                "x": xs,
                "y": ys,
                "connectgaps": False,
                "hovertemplate": "%{y:,d} members<extra></extra>",
            }
        ],
        "layout": {
            **_LAYOUT,
            "showlegend": False,
            "xaxis": date_axis(first, last),
            "yaxis": count_axis(sizes, title="members"),
            "shapes": [
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": day,
                    "x1": day,
                    "y0": 0,
                    "y1": 1,
                    "line": {"dash": "dot", "width": 1, "color": "#6b7280"},
                }
                for day in edits
            ],
            "annotations": [
                {
                    "x": day,
                    "xref": "x",
                    "y": 1,
                    "yref": "paper",
                    "text": "edited",
                    "showarrow": False,
                    "yanchor": "bottom",
                    "font": {"size": 11, "color": "#6b7280"},
                }
                for day in edits
            ],
        },
        "config": {"displaylogo": False, "responsive": True},
    }


def _same_definition(a: str, b: str) -> bool:
    """Snapshots from before digests were kept ("") are taken as the same definition."""
    return not a or not b or a == b


def flow_figure(flow: dict, *, days: int, today: dt.date) -> dict | None:
    """Entered (up) and exited (down) per day over the last `days` days; None when no one
    entered or left in that time."""
    axis = [today - dt.timedelta(days=n) for n in range(days, -1, -1)]
    entered = [flow["entered"].get(d, 0) for d in axis]
    exited = [flow["exited"].get(d, 0) for d in axis]
    if not any(entered) and not any(exited):
        return None
    x = [d.isoformat() for d in axis]
    return {
        "data": [
            {
                "type": "bar",
                "name": "entered",
                "x": x,
                "y": entered,
                "hovertemplate": "%{y:,d} entered<extra></extra>",
            },
            {
                "type": "bar",
                "name": "exited",
                "x": x,
                "y": [-n for n in exited],
                "customdata": exited,
                "hovertemplate": "%{customdata:,d} exited<extra></extra>",
            },
        ],
        "layout": {
            **_LAYOUT,
            "barmode": "relative",
            "xaxis": date_axis(axis[0], axis[-1]),
            "yaxis": count_axis([*entered, *(-n for n in exited)], title="profiles"),
        },
        "config": {"displaylogo": False, "responsive": True},
    }


def _html(figure: dict, div_id: str) -> str:
    """A div the page's `static/js/charts.js` draws into, and the figure as JSON beside it.

    Not Plotly's own HTML: its inline script calls Plotly at once, and Plotly (4.8 MB) is
    loaded with `defer` so that the page shows before it is parsed.
    """
    # No mode bar: Plotly colours it with <style> rules it injects per chart, which the
    # Content-Security-Policy refuses.
    figure = {**figure, "config": {"displayModeBar": False, "responsive": True}}
    data_id = f"{div_id}-data"
    return format_html(
        '<div id="{}" class="chart" data-chart="{}"></div>{}',
        div_id,
        data_id,
        json_script(figure, data_id),
    )


def size_over_time(snapshots: Sequence, *, today: dt.date | None = None) -> str:
    """The size chart's HTML, or "" when there is nothing to draw."""
    figure = size_over_time_figure(snapshots, today=today)
    return _html(figure, "chart-size") if figure else ""


def flow_per_day(flow: dict, *, days: int, today: dt.date) -> str:
    """The entered/exited chart's HTML, or "" when no one entered or left."""
    figure = flow_figure(flow, days=days, today=today)
    return _html(figure, "chart-flow") if figure else ""


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
