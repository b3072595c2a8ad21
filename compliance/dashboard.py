"""The numbers of the home dashboard's requests panel, computed by the worker and kept in
`cdp_site.dashboard`: open data subject requests by status and type, the overdue and those due
within a week (never the subjects' identifiers)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils import timezone

from cdp_site.dashboard import dashboard_aggregate_refresh

from .models import DataSubjectRequest

AGGREGATE_KEY = "compliance.requests"
DUE_SOON_DAYS = 7
LISTED = 10

CLOSED = (DataSubjectRequest.Status.COMPLETED, DataSubjectRequest.Status.REJECTED)


def dashboard_compute(*, today: dt.date | None = None) -> dict:
    today = today or timezone.now().date()
    open_requests = DataSubjectRequest.objects.exclude(status__in=CLOSED)
    overdue = open_requests.filter(due_on__lt=today)
    due_soon = open_requests.filter(
        due_on__gte=today, due_on__lte=today + dt.timedelta(days=DUE_SOON_DAYS)
    )
    by_status = open_requests.values("status").annotate(count=Count("*")).order_by("status")
    by_type = open_requests.values("type").annotate(count=Count("*")).order_by("type")
    labels_status = dict(DataSubjectRequest.Status.choices)
    labels_type = dict(DataSubjectRequest.Type.choices)

    def listed(requests) -> list[dict]:
        return [
            {
                "id": r["pk"],
                "type": labels_type.get(r["type"], r["type"]),
                "status": labels_status.get(r["status"], r["status"]),
                "due_on": r["due_on"].isoformat(),
                "days": (r["due_on"] - today).days,
            }
            for r in requests.order_by("due_on", "pk").values("pk", "type", "status", "due_on")[
                :LISTED
            ]
        ]

    return {
        "open": open_requests.count(),
        "overdue": overdue.count(),
        "due_soon": due_soon.count(),
        "by_status": [
            {"status": labels_status.get(r["status"], r["status"]), "count": r["count"]}
            for r in by_status
        ],
        "by_type": [
            {"type": labels_type.get(r["type"], r["type"]), "count": r["count"]} for r in by_type
        ],
        "overdue_list": listed(overdue),
        "due_soon_list": listed(due_soon),
    }


def dashboard_refresh() -> None:
    dashboard_aggregate_refresh(key=AGGREGATE_KEY, compute=dashboard_compute)
