"""Thin Celery entry points of activation (registered by `integrations.tasks`)."""

from celery import shared_task


@shared_task(name="integrations.audience_sync_run", bind=True, max_retries=None)
def audience_sync_run_task(self, run_id: int) -> str | None:
    """Deliver one audience sync run. Idempotent: a run already claimed or ended is left alone.
    While another run delivers to the same destination, this one waits and tries again."""
    from .runner import DestinationBusyError, audience_sync_run_execute

    try:
        run = audience_sync_run_execute(run_id)
    except DestinationBusyError:
        raise self.retry(countdown=5) from None
    return run.status if run else None


@shared_task(name="integrations.audience_syncs_due")
def audience_syncs_due_task() -> int:
    """Scheduled (every minute): start the interval syncs that are due."""
    from .services import audience_syncs_due_start

    return audience_syncs_due_start()


@shared_task(name="integrations.audience_realtime")
def audience_realtime_task() -> int:
    """Real time: start a run of every real-time sync whose segment changed (coalesced)."""
    from .realtime import REALTIME_GATE, audience_realtime_start

    REALTIME_GATE.started()
    return audience_realtime_start()


@shared_task(name="integrations.event_forwards_due")
def event_forwards_due_task() -> int:
    """Scheduled (every minute): start a run of each enabled forward with events waiting."""
    from .forwarding import event_forwards_due_start

    return event_forwards_due_start()


@shared_task(name="integrations.event_forward_run")
def event_forward_run_task(run_id: int) -> str | None:
    """Forward the events of one forwarding run. Idempotent like the audience runs."""
    from .forwarding import event_forward_run_execute

    run = event_forward_run_execute(run_id)
    return run.status if run else None
