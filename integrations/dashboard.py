"""The numbers of the home dashboard's sync health panel, computed by the worker and kept in
`cdp_site.dashboard`: runs of the last 7 days by day and outcome, per source and audience sync
its latest outcome, and the latest failures."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from cdp_site.dashboard import dashboard_aggregate_refresh

from .models import SyncRun

AGGREGATE_KEY = "integrations.sync_health"
DAYS = 7
FAILURES_KEPT = 10


def _target(run: dict) -> dict:
    """What a run was of, and where an admin acts on it."""
    if run["kind"] == SyncRun.Kind.AUDIENCE and run["audience_sync_id"]:
        return {"label": run["audience_sync__segment__name"] or "audience sync", "page": "audience"}
    if run["kind"] == SyncRun.Kind.FORWARD:
        return {"label": "event forwarding", "page": ""}
    return {"label": run["source__name"] or "source", "page": "source"}


def dashboard_compute(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    since = now - dt.timedelta(days=DAYS)
    recent = SyncRun.objects.filter(created_at__gte=since)
    per_day = (
        recent.annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(count=Count("*"))
        .order_by("day", "status")
    )
    fields = (
        "pk",
        "kind",
        "status",
        "message",
        "finished_at",
        "source_id",
        "source__name",
        "audience_sync_id",
        "audience_sync__segment__name",
    )
    failures = []
    for run in (
        recent.filter(status=SyncRun.Status.FAILED)
        .order_by("-created_at")
        .values(*fields)[:FAILURES_KEPT]
    ):
        failures.append(
            {
                "id": run["pk"],
                "kind": run["kind"],
                "source_id": run["source_id"],
                "audience_sync_id": run["audience_sync_id"],
                "message": run["message"][:300],
                "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
                **_target(run),
            }
        )
    totals = recent.aggregate(
        runs=Count("*"),
        failed=Count("pk", filter=Q(status=SyncRun.Status.FAILED)),
        active=Count("pk", filter=Q(status__in=SyncRun.ACTIVE)),
        last=Max("created_at"),
    )
    return {
        "runs": totals["runs"],
        "failed": totals["failed"],
        "active": totals["active"],
        "last_run_at": totals["last"].isoformat() if totals["last"] else None,
        "per_day": [
            {"day": r["day"].isoformat(), "status": r["status"], "count": r["count"]}
            for r in per_day
        ],
        "failures": failures,
    }


def dashboard_refresh() -> None:
    dashboard_aggregate_refresh(key=AGGREGATE_KEY, compute=dashboard_compute)
