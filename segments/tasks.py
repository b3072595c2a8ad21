"""Thin Celery entry points of the segments app."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings


@shared_task(
    name="segments.refresh_membership",
    soft_time_limit=settings.CDP_SEGMENT_REFRESH_BUDGET_SECONDS,
    time_limit=settings.CDP_SEGMENT_REFRESH_BUDGET_SECONDS + 60,
)
def segment_refresh_task(segment_id: int) -> int | None:
    """Full refresh of one segment, within its time budget. Idempotent: a second run changes
    nothing. Over budget, the refresh stops and the segment says so on its page."""
    from .services import segment_mark_over_budget, segment_refresh_or_mark_failed

    try:
        result = segment_refresh_or_mark_failed(segment_id=segment_id)
    except SoftTimeLimitExceeded:
        segment_mark_over_budget(
            segment_id=segment_id, budget_seconds=settings.CDP_SEGMENT_REFRESH_BUDGET_SECONDS
        )
        return None
    return result.size if result else None


@shared_task(name="segments.refresh_pending")
def segments_refresh_pending_task() -> int:
    """Real-time update: serve every waiting refresh request (see `segments.receivers`)."""
    from .receivers import REFRESH_GATE, refresh_pending_request
    from .services import segments_refresh_pending

    REFRESH_GATE.started()
    served, more = segments_refresh_pending()
    if more:
        refresh_pending_request()
    return served


@shared_task(name="segments.refresh_all")
def segments_refresh_all_task() -> int:
    """Scheduled: queue a full refresh of every segment (catches expiring time windows)."""
    from .services import segments_refresh_all

    return len(segments_refresh_all())


@shared_task(name="segments.insights_dashboard_refresh")
def dashboard_refresh_task() -> None:
    """Recompute the home dashboard's segments panel. Idempotent."""
    from .dashboard import dashboard_refresh

    dashboard_refresh()
