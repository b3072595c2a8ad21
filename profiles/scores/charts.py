"""Selector data -> Plotly figures of the scores pages (pure functions, plain JSON dicts)."""

from .rfm import GROUP_OF

_CONFIG = {"displayModeBar": False, "responsive": True}


def rfm_grid_figure(cells: list[dict]) -> dict:
    """A 5 x 5 heatmap: recency score across, frequency score up, customers per cell, each cell
    named by its group. A click on a cell creates the segment of its group (see insights.js)."""
    counts = {(c["r"], c["f"]): c["count"] for c in cells}
    z, text, groups = [], [], []
    for f in range(1, 6):
        z.append([counts.get((r, f), 0) for r in range(1, 6)])
        text.append([f"{GROUP_OF[(r, f)]}<br>{counts.get((r, f), 0)}" for r in range(1, 6)])
        groups.append([GROUP_OF[(r, f)] for r in range(1, 6)])
    return {
        "data": [
            {
                "type": "heatmap",
                "x": [1, 2, 3, 4, 5],
                "y": [1, 2, 3, 4, 5],
                "z": z,
                "text": text,
                "texttemplate": "%{text}",
                "customdata": groups,
                "hovertemplate": "R %{x} · F %{y}<br>%{customdata}: %{z} customers<extra></extra>",
                "colorscale": "Blues",
                "showscale": False,
            }
        ],
        "layout": {
            "height": 420,
            "margin": {"l": 60, "r": 10, "t": 10, "b": 50},
            "xaxis": {"title": {"text": "recency score (5 = most recent)"}, "dtick": 1},
            "yaxis": {"title": {"text": "frequency score (5 = most orders)"}, "dtick": 1},
            "meta": {"click": "form"},
        },
        "config": _CONFIG,
    }


def calibration_figure(details: dict) -> dict:
    """Predicted against observed churn on the held-out customers, model and baseline."""
    line = {"type": "scatter", "mode": "lines+markers"}
    return {
        "data": [
            {
                **line,
                "name": "model",
                "x": details["calibration"]["predicted"],
                "y": details["calibration"]["observed"],
            },
            {
                **line,
                "name": "recency baseline",
                "x": details["baseline_calibration"]["predicted"],
                "y": details["baseline_calibration"]["observed"],
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "perfect",
                "x": [0, 1],
                "y": [0, 1],
                "line": {"dash": "dot", "color": "#9ca3af"},
            },
        ],
        "layout": {
            "height": 360,
            "margin": {"l": 60, "r": 10, "t": 10, "b": 50},
            "xaxis": {"title": {"text": "predicted churn probability"}, "range": [0, 1]},
            "yaxis": {"title": {"text": "share that did not buy again"}, "range": [0, 1]},
            "legend": {"orientation": "h", "y": -0.25},
        },
        "config": _CONFIG,
    }


def churn_distribution_figure(counts: list[int]) -> dict:
    """Customers per tenth of churn probability."""
    return {
        "data": [
            {
                "type": "bar",
                "x": [f"{10 * i} to {10 * (i + 1)}%" for i in range(len(counts))],
                "y": counts,
            }
        ],
        "layout": {
            "height": 260,
            "margin": {"l": 50, "r": 10, "t": 10, "b": 50},
            "yaxis": {"title": {"text": "customers"}},
        },
        "config": _CONFIG,
    }
