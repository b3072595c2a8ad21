"""Thin Celery entry points of the profiles app."""

from celery import shared_task

# One run resolves at most this many batches, then queues the next run: a task never runs
# without end under steady ingest (see the time limits in settings).
RESOLVE_BATCH_SIZE = 5000
RESOLVE_MAX_BATCHES = 100


@shared_task(name="profiles.resolve_events")
def events_resolve_task() -> int:
    """Resolve stored events that have no profile yet. Idempotent; safe to run concurrently."""
    from .identity import events_resolve_pending
    from .resolution_queue import resolution_request, resolution_started

    resolution_started()
    resolved = events_resolve_pending(
        batch_size=RESOLVE_BATCH_SIZE, max_batches=RESOLVE_MAX_BATCHES
    )
    if resolved >= RESOLVE_BATCH_SIZE * RESOLVE_MAX_BATCHES:
        # Full batches all the way: more may be waiting.
        resolution_request()
    return resolved


@shared_task(name="profiles.event_partitions_ensure")
def event_partitions_ensure_task() -> list[str]:
    """Create the event table's monthly partitions ahead of time (PostgreSQL). Idempotent."""
    from .event_partitions import event_partitions_ensure

    return event_partitions_ensure()
