"""The home dashboard's sync health panel, for integration admins."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cdp_site.dashboard import dashboard_aggregate
from cdp_site.roles import Role, role_required

from .dashboard import AGGREGATE_KEY

STATUS_COLOURS = {
    "succeeded": "#047857",
    "failed": "#b91c1c",
    "running": "#2563eb",
    "queued": "#9ca3af",
    "cancelled": "#b45309",
}


def sync_health_figure(per_day: list[dict], link: str) -> dict:
    """Stacked bars of runs per day by outcome; a click opens the sources list."""
    by_status: dict[str, tuple[list, list]] = {}
    for row in per_day:
        days, counts = by_status.setdefault(row["status"], ([], []))
        days.append(row["day"])
        counts.append(row["count"])
    return {
        "data": [
            {
                "type": "bar",
                "name": status,
                "x": days,
                "y": counts,
                "marker": {"color": STATUS_COLOURS.get(status, "#6b7280")},
                "customdata": [link] * len(days),
            }
            for status, (days, counts) in by_status.items()
        ],
        "layout": {
            "barmode": "stack",
            "height": 260,
            "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
            "legend": {"orientation": "h", "y": -0.25},
            "xaxis": {"type": "date"},
            "yaxis": {"title": {"text": "sync runs per day"}},
            "meta": {"click": "link"},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }


def _failure_link(failure: dict) -> str:
    if failure["page"] == "source" and failure["source_id"]:
        return reverse("integrations:sync_run_detail", args=[failure["source_id"], failure["id"]])
    if failure["page"] == "audience" and failure["audience_sync_id"]:
        return reverse("integrations:audience_sync_detail", args=[failure["audience_sync_id"]])
    return reverse("integrations:destination_list")


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def dashboard_panel(request):
    aggregate = dashboard_aggregate(AGGREGATE_KEY)
    context = {"aggregate": aggregate}
    if aggregate is not None:
        value = aggregate.value
        context.update(
            {
                "value": value,
                "figure": sync_health_figure(value["per_day"], reverse("integrations:source_list")),
                "failures": [{**f, "link": _failure_link(f)} for f in value["failures"]],
            }
        )
    return render(request, "integrations/_dashboard.html", context)
