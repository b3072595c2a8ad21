"""Thin Celery entry points of the compliance app (routed to the `compliance` queue)."""

from celery import shared_task


@shared_task(name="compliance.request_execute")
def request_execute_task(request_id: int) -> str | None:
    """Carry out a running data subject request. Run twice, the second finds it completed and
    does nothing."""
    from .erasure.runner import request_execute

    request = request_execute(request_id=request_id)
    return request.status if request else None


@shared_task(name="compliance.retention_apply")
def retention_apply_task() -> int:
    """Scheduled: delete events past their retention period, within a batch budget. Run twice,
    the second deletes only what the first left over its budget."""
    from .retention import retention_apply

    return retention_apply().deleted


@shared_task(name="compliance.insights_dashboard_refresh")
def dashboard_refresh_task() -> None:
    """Recompute the home dashboard's data subject requests panel. Idempotent."""
    from .dashboard import dashboard_refresh

    dashboard_refresh()
