"""Thin Celery entry points of the integrations app (all routed to the `syncs` queue)."""

from celery import shared_task

from cdp_site.errors import DomainError


@shared_task(name="integrations.sync_run")
def sync_run_task(run_id: int) -> None:
    """Run a queued sync run (a second delivery of the same run does nothing)."""
    from .sync.runner import sync_run_execute

    sync_run_execute(run_id)


@shared_task(name="integrations.sync_runs_sweep")
def sync_runs_sweep_task() -> None:
    """Resume runs that lost their worker; publish again runs whose task was lost."""
    from .sync.runner import sync_runs_sweep

    sync_runs_sweep()


@shared_task(name="integrations.sync_scheduled")
def sync_scheduled_task(source_id: int) -> None:
    """A source's scheduled run (started by beat from the source's schedule row)."""
    from .models import Source, SyncRun
    from .sync.runner import sync_run_start

    source = Source.objects.filter(pk=source_id).first()
    if source is None or not source.enabled:
        return
    try:
        sync_run_start(source=source, trigger=SyncRun.Trigger.SCHEDULE)
    except DomainError:
        # A run still going (or a source that no longer pulls): the schedule's next tick tries.
        return


@shared_task(name="integrations.csv_uploads_expire")
def csv_uploads_expire_task() -> dict:
    """Daily: delete uploaded CSV files and reports past `CDP_CSV_KEEP_DAYS`."""
    from .csv_import.expiry import csv_uploads_expire

    return csv_uploads_expire()


@shared_task(name="integrations.insights_dashboard_refresh")
def dashboard_refresh_task() -> None:
    """Recompute the home dashboard's sync health panel. Idempotent."""
    from .dashboard import dashboard_refresh

    dashboard_refresh()
