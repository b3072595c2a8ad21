"""Thin Celery entry points of the segments app."""

from celery import shared_task


@shared_task(name="segments.refresh_membership")
def segment_refresh_task(segment_id: int) -> int | None:
    """Full refresh of one segment. Idempotent: a second run changes nothing."""
    from .services import segment_refresh_or_mark_failed

    result = segment_refresh_or_mark_failed(segment_id=segment_id)
    return result.size if result else None


@shared_task(name="segments.refresh_for_profiles")
def segments_refresh_for_profiles_task(
    profile_ids: list[int], event_ids: list[int] | None = None
) -> int:
    """Real-time update: re-evaluate affected segments for just these profiles."""
    from .services import segments_refresh_for_profiles

    return len(segments_refresh_for_profiles(profile_ids=profile_ids, event_ids=event_ids))


@shared_task(name="segments.refresh_all")
def segments_refresh_all_task() -> int:
    """Scheduled: queue a full refresh of every segment (catches expiring time windows)."""
    from .services import segments_refresh_all

    return len(segments_refresh_all())


@shared_task(name="segments.refresh_catalogue")
def catalogue_refresh_task() -> int:
    """Scheduled: gather the trait keys, event names and property keys the builder offers."""
    from .catalogue import catalogue_refresh

    return catalogue_refresh()
