"""The numbers of the home dashboard's customers panel, computed by the worker and kept in
`cdp_site.dashboard`: totals, events per day by source, new profiles per week."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from cdp_site.dashboard import dashboard_aggregate_refresh
from cdp_site.source_names import source_names

from .models import Event, Identity, Profile, ProfileMerge

AGGREGATE_KEY = "profiles.overview"
EVENT_DAYS = 30
PROFILE_WEEKS = 12
# Identifiers that say who a person is; an anonymous id alone does not.
ANONYMOUS_KINDS = ("anonymous_id",)


def dashboard_compute(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    live = Profile.objects.filter(merged_into__isnull=True)
    profiles = live.count()
    identified = live.filter(
        Exists(Identity.objects.filter(profile_id=OuterRef("pk")).exclude(kind__in=ANONYMOUS_KINDS))
    ).count()
    week_ago = now - dt.timedelta(days=7)
    per_day = (
        Event.objects.filter(timestamp__gte=today - dt.timedelta(days=EVENT_DAYS - 1))
        .annotate(day=TruncDate("timestamp"))
        .values("day", "source_id")
        .annotate(count=Count("*"))
        .order_by("day", "source_id")
    )
    per_day = [
        {"day": row["day"].isoformat(), "source_id": row["source_id"], "count": row["count"]}
        for row in per_day
    ]
    names = source_names(row["source_id"] for row in per_day)
    weeks_from = today - dt.timedelta(weeks=PROFILE_WEEKS)
    per_week = (
        live.filter(first_seen__gte=weeks_from)
        .annotate(week=TruncWeek("first_seen"))
        .values("week")
        .annotate(count=Count("*"))
        .order_by("week")
    )
    return {
        "profiles": profiles,
        "identified": identified,
        "identified_share": (identified / profiles) if profiles else 0.0,
        "events_today": Event.objects.filter(timestamp__gte=today).count(),
        "events_7_days": Event.objects.filter(timestamp__gte=week_ago).count(),
        "merges": ProfileMerge.objects.filter(undone_at__isnull=True).count(),
        "merges_7_days": ProfileMerge.objects.filter(merged_at__gte=week_ago).count(),
        "events_per_day": per_day,
        "source_names": {str(k): v for k, v in names.items()},
        "new_profiles_per_week": [
            {"week": row["week"].date().isoformat(), "count": row["count"]} for row in per_week
        ],
    }


def dashboard_refresh() -> None:
    dashboard_aggregate_refresh(key=AGGREGATE_KEY, compute=dashboard_compute)
