"""The numbers of the home dashboard's segments panel, computed by the worker and kept in
`cdp_site.dashboard`: each segment's size and its sizes over the last 30 days."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from cdp_site.dashboard import dashboard_aggregate_refresh

from .models import Segment, SegmentSnapshot

AGGREGATE_KEY = "segments.sizes"
TREND_DAYS = 30
# The largest segments kept; the panel shows those of them the viewer may see.
KEPT = 200


def dashboard_compute(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    segments = list(
        Segment.objects.order_by("-member_count", "pk").values(
            "pk", "name", "member_count", "refreshed_at"
        )[:KEPT]
    )
    ids = [s["pk"] for s in segments]
    trends: dict[int, list] = {}
    snapshots = (
        SegmentSnapshot.objects.filter(
            segment_id__in=ids, taken_at__gte=now - dt.timedelta(days=TREND_DAYS)
        )
        .order_by("segment_id", "taken_at")
        .values_list("segment_id", "taken_at", "size")
    )
    for segment_id, taken_at, size in snapshots:
        trends.setdefault(segment_id, []).append([taken_at.isoformat(), size])
    return {
        "segments": [
            {
                "id": s["pk"],
                "name": s["name"],
                "size": s["member_count"],
                "refreshed_at": s["refreshed_at"].isoformat() if s["refreshed_at"] else None,
                "trend": trends.get(s["pk"], []),
            }
            for s in segments
        ]
    }


def dashboard_refresh() -> None:
    dashboard_aggregate_refresh(key=AGGREGATE_KEY, compute=dashboard_compute)
