"""Thin Celery entry points of the project package."""

import socket

from celery import shared_task
from django.utils import timezone


@shared_task(name="cdp_site.worker_ping", ignore_result=False)
def worker_ping_task() -> dict:
    """Answer from inside a worker, so a page can show that tasks really run."""
    return {"worker": socket.gethostname(), "answered_at": timezone.now().isoformat()}
