"""The Celery application, and start/finish logging for every task."""

import logging
import os
import time

from celery import Celery, signals
from kombu.exceptions import KombuError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")

app = Celery("cdp_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("cdp.tasks")
_started: dict[str, float] = {}

# What publishing raises when the broker cannot be reached (kombu wraps the transports' errors).
BROKER_ERRORS = (KombuError, OSError)


def task_publish(task, *args):
    """Queue `task(*args)`; the AsyncResult, or None when the broker cannot take it.

    A person's request never fails for that: the change it made is committed, the error is
    logged, and the scheduled runs in Celery beat (the resolve sweep, the hourly segment
    refresh) catch up once the broker is back.
    """
    try:
        return task.delay(*args)
    except BROKER_ERRORS:
        logger.exception("task could not be queued", extra={"task_name": task.name})
        return None


@signals.task_prerun.connect
def _log_task_start(task_id=None, task=None, **_kwargs):
    _started[task_id] = time.monotonic()
    logger.info("task started", extra={"task_id": task_id, "task_name": task.name})


@signals.task_postrun.connect
def _log_task_finish(task_id=None, task=None, state=None, **_kwargs):
    started = _started.pop(task_id, None)
    duration_ms = round((time.monotonic() - started) * 1000, 1) if started else None
    logger.info(
        "task finished",
        extra={
            "task_id": task_id,
            "task_name": task.name,
            "state": state,
            "duration_ms": duration_ms,
        },
    )


@signals.setup_logging.connect
def _use_django_logging(**_kwargs):
    # Connecting this signal stops Celery from replacing the logging set up by Django's settings.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
