"""Thin Celery entry points of the profiles app."""

from celery import shared_task


@shared_task(name="profiles.resolve_events")
def events_resolve_task() -> int:
    """Resolve every stored event that has no profile yet. Idempotent; safe to run concurrently."""
    from .identity import events_resolve_pending
    from .resolution_queue import resolution_started

    resolution_started()
    return events_resolve_pending()
