"""Thin Celery entry points of the profiles app."""

from celery import shared_task

# One run resolves at most this many batches, then queues the next run: a task never runs
# without end under steady ingest (see the time limits in settings).
RESOLVE_BATCH_SIZE = 5000
RESOLVE_MAX_BATCHES = 100
# One consolidation run moves at most this many events of merged-away profiles, then queues
# the next run.
CONSOLIDATE_MAX_EVENTS = 200_000


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
    from .links import links_exist

    if links_exist():
        # Merges of long histories left events to move: a task of its own, so resolution
        # never waits behind it.
        links_consolidate_task.delay()
    return resolved


@shared_task(name="profiles.consolidate_links")
def links_consolidate_task() -> int:
    """Move the events of profiles merged away with long histories to the profiles they were
    merged into (see `profiles.links`). Idempotent; safe to run concurrently."""
    from .links import links_consolidate, links_exist

    if not links_exist():
        return 0
    moved, done = links_consolidate(max_events=CONSOLIDATE_MAX_EVENTS)
    if not done:
        links_consolidate_task.delay()
    return moved


@shared_task(name="profiles.event_partitions_ensure")
def event_partitions_ensure_task() -> list[str]:
    """Create the event table's monthly partitions ahead of time (PostgreSQL). Idempotent."""
    from .event_partitions import event_partitions_ensure

    return event_partitions_ensure()


@shared_task(name="profiles.computed_traits_compute")
def computed_traits_compute_task(trait_ids: list[int] | None = None) -> dict:
    """Compute the computed traits (all, or these definitions) for every profile. Idempotent."""
    from .computed_traits import computed_traits_compute

    return computed_traits_compute(trait_ids=trait_ids)


@shared_task(name="profiles.computed_traits_refresh")
def computed_traits_refresh_task(profile_ids: list[int]) -> dict:
    """Recompute every computed trait of these profiles (they received events, were merged or
    split). Idempotent."""
    from .computed_traits import computed_traits_compute

    return computed_traits_compute(profile_ids=profile_ids)


@shared_task(name="profiles.insights_rfm_recompute")
def rfm_recompute_task() -> int:
    """Recompute every customer's RFM scores. Idempotent: a rerun writes the same scores."""
    from .scores.rfm import rfm_recompute

    return rfm_recompute().scored


@shared_task(name="profiles.insights_churn_train")
def churn_train_task() -> int:
    """Retrain and measure the churn model; write its scores only when it is offered."""
    from .scores.churn import churn_train

    return churn_train().scored


@shared_task(name="profiles.insights_dashboard_refresh")
def dashboard_refresh_task() -> None:
    """Recompute the home dashboard's customers panel. Idempotent."""
    from .dashboard import dashboard_refresh

    dashboard_refresh()


@shared_task(name="profiles.refresh_catalogue")
def catalogue_refresh_task() -> int:
    """Scan a sample of the newest profiles and events into the data catalogue (on worker start
    and on a schedule; each resolved batch's new fields are learnt as it is resolved)."""
    from .catalogue.scan import catalogue_refresh

    return catalogue_refresh()


@shared_task(name="profiles.catalogue_learn_batch")
def catalogue_learn_batch_task(
    profile_ids: list[int], event_ids: list[int], between: list[str] | None = None
) -> int:
    """Learn the new fields of one resolved batch into the data catalogue. Idempotent: a field
    already known is not written again unless the batch makes its class stricter."""
    from datetime import datetime

    from .catalogue.scan import catalogue_learn_batch

    moments = tuple(datetime.fromisoformat(moment) for moment in between) if between else None
    return catalogue_learn_batch(profile_ids=profile_ids, event_ids=event_ids, between=moments)
