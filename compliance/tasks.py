"""Thin Celery entry points of the compliance app (routed to the `compliance` queue)."""

from celery import shared_task


@shared_task(name="compliance.request_execute")
def request_execute_task(request_id: int) -> str | None:
    """Carry out a running data subject request. Run twice, the second finds it completed and
    does nothing."""
    from .erasure.runner import request_execute

    request = request_execute(request_id=request_id)
    return request.status if request else None
