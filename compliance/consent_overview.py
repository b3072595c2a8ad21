"""The consent overview: per purpose, how many live profiles grant, withdrew (or refused) and
never answered, and the grants and withdrawals recorded per week.

Counts are set-based: one grouped query over each profile's record in force per purpose (no
later record for the same profile and purpose, which the `consent_latest` index answers), one
count of live profiles, and one grouped query for the weekly trend.
"""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from profiles.models import Profile

from .models import ConsentPurpose, ConsentRecord

TREND_WEEKS = 26


def _in_force():
    """Consent records in force: the latest per profile and purpose (ties broken by id)."""
    later = ConsentRecord.objects.filter(
        profile_id=OuterRef("profile_id"), purpose_id=OuterRef("purpose_id")
    ).filter(
        Q(recorded_at__gt=OuterRef("recorded_at"))
        | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    return ConsentRecord.objects.filter(~Exists(later))


def consent_overview() -> dict:
    """{"profiles": live profiles, "purposes": [{purpose, granted, withdrawn, unanswered}]}.

    Only live profiles count: a merged-away profile's person is counted under the profile they
    were merged into, whose own records are what consent checks read.
    """
    live = Profile.objects.filter(merged_into__isnull=True).count()
    counts = {
        row["purpose_id"]: row
        for row in _in_force()
        .filter(profile__merged_into__isnull=True)
        .order_by()
        .values("purpose_id")
        .annotate(
            n_granted=Count("pk", filter=Q(granted=True)),
            n_withdrawn=Count("pk", filter=Q(granted=False)),
        )
    }
    rows = []
    for purpose in ConsentPurpose.objects.order_by("name"):
        row = counts.get(purpose.pk, {"n_granted": 0, "n_withdrawn": 0})
        rows.append(
            {
                "purpose": purpose,
                "granted": row["n_granted"],
                "withdrawn": row["n_withdrawn"],
                "unanswered": max(live - row["n_granted"] - row["n_withdrawn"], 0),
            }
        )
    return {"profiles": live, "purposes": rows}


def consent_trend(*, purpose: ConsentPurpose | None = None, weeks: int = TREND_WEEKS) -> dict:
    """Grants and withdrawals recorded per ISO week (Monday) over the last `weeks` weeks, every
    week listed (zero when none): {"weeks": [date], "granted": [n], "withdrawn": [n]}."""
    today = timezone.now().date()
    first = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks - 1)
    rows = ConsentRecord.objects.filter(
        recorded_at__gte=dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    )
    if purpose is not None:
        rows = rows.filter(purpose=purpose)
    grouped = (
        rows.annotate(week=TruncWeek("recorded_at", tzinfo=dt.UTC))
        .order_by()
        .values("week")
        .annotate(
            n_granted=Count("pk", filter=Q(granted=True)),
            n_withdrawn=Count("pk", filter=Q(granted=False)),
        )
    )
    by_week = {row["week"].date(): row for row in grouped}
    axis = [first + dt.timedelta(weeks=n) for n in range(weeks)]
    return {
        "weeks": axis,
        "granted": [by_week.get(week, {}).get("n_granted", 0) for week in axis],
        "withdrawn": [by_week.get(week, {}).get("n_withdrawn", 0) for week in axis],
    }


def consent_trend_figure(trend: dict) -> dict:
    """Plotly JSON: grants up, withdrawals down, per week; drawn by the bundled plotly.min.js."""
    weeks = [week.isoformat() for week in trend["weeks"]]
    return {
        "data": [
            {"type": "bar", "name": "granted", "x": weeks, "y": trend["granted"]},
            {
                "type": "bar",
                "name": "withdrawn or refused",
                "x": weeks,
                "y": [-n for n in trend["withdrawn"]],
            },
        ],
        "layout": {
            "barmode": "relative",
            "height": 280,
            "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
            "legend": {"orientation": "h", "y": -0.25},
            "yaxis": {"title": {"text": "records per week"}},
            "xaxis": {"type": "date"},
        },
        "config": {"displayModeBar": False, "responsive": True},
    }
