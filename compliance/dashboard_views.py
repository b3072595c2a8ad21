"""The home dashboard's requests panel, for compliance officers."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cdp_site.dashboard import dashboard_aggregate
from cdp_site.roles import Role, role_required

from .dashboard import AGGREGATE_KEY


def open_requests_figure(by_status: list[dict], link: str) -> dict:
    """Bars: open requests by status; a click opens the request queue."""
    return {
        "data": [
            {
                "type": "bar",
                "x": [r["status"] for r in by_status],
                "y": [r["count"] for r in by_status],
                "customdata": [link] * len(by_status),
                "marker": {"color": "#2563eb"},
            }
        ],
        "layout": {
            "height": 240,
            "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
            "yaxis": {"title": {"text": "open requests"}},
            "meta": {"click": "link"},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def dashboard_panel(request):
    aggregate = dashboard_aggregate(AGGREGATE_KEY)
    context = {"aggregate": aggregate}
    if aggregate is not None:
        context.update(
            {
                "value": aggregate.value,
                "figure": open_requests_figure(
                    aggregate.value["by_status"], reverse("compliance:requests")
                ),
            }
        )
    return render(request, "compliance/_dashboard.html", context)
