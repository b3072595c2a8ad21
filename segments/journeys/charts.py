"""Selector data -> Plotly figures of the journeys pages (pure functions, plain JSON dicts)."""

_CONFIG = {"displayModeBar": False, "responsive": True}


def funnel_figure(steps: list[dict]) -> dict:
    """Bars narrowing step by step; a click on a step creates the segment of the people who
    dropped out after it (the page's form keyed by the step number, see insights.js)."""
    return {
        "data": [
            {
                "type": "funnel",
                "y": [f"{s['step']}. {s['event']}" for s in steps],
                "x": [s["reached"] for s in steps],
                "customdata": [s["step"] if s["dropped"] else None for s in steps],
                "textinfo": "value+percent initial+percent previous",
                "hovertemplate": "%{y}: %{x} people<extra></extra>",
                "marker": {"color": "#2563eb"},
            }
        ],
        "layout": {
            "height": 80 + 60 * len(steps),
            "margin": {"l": 160, "r": 10, "t": 10, "b": 20},
            "meta": {"click": "form"},
        },
        "config": _CONFIG,
    }


def sankey_figure(answer: dict, *, direction: str, event: str) -> dict:
    """The paths from (or to) the anchor event, one column per position."""
    nodes: dict[tuple[int, str], int] = {(0, event): 0}
    labels = [event]
    sources, targets, values = [], [], []
    for link in answer["links"]:
        ends = []
        for position, name in (
            (link["position"] - 1, link["source"]),
            (link["position"], link["target"]),
        ):
            key = (position, name)
            if key not in nodes:
                nodes[key] = len(labels)
                labels.append(name)
            ends.append(nodes[key])
        sources.append(ends[0])
        targets.append(ends[1])
        values.append(link["people"])
    if direction == "previous":
        # Read left to right in time: the anchor on the right.
        sources, targets = targets, sources
    return {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "node": {"label": labels, "pad": 12, "thickness": 14},
                "link": {"source": sources, "target": targets, "value": values},
            }
        ],
        "layout": {"height": 460, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}},
        "config": _CONFIG,
    }
