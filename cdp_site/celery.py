"""The Celery application: publishing that survives a dead broker, catch-up when it returns, and
start/finish logging for every task."""

import logging
import os
import time

from celery import Celery, bootsteps, signals
from kombu.exceptions import KombuError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")

app = Celery("cdp_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("cdp.tasks")
_started: dict[str, float] = {}

# What publishing raises when the broker cannot be reached (kombu wraps the transports' errors).
BROKER_ERRORS = (KombuError, OSError)


class BrokerHealth:
    """What this process knows of the broker: a publish that failed marks it down for a while.

    While it is known to be down, requests skip publishing at once instead of each waiting out
    the publish retries (up to a second or two per request). After `CDP_BROKER_RETRY_SECONDS` the
    next publish tries again. The state is per process and needs no lock: it is one float.
    """

    def __init__(self) -> None:
        self.down_until = 0.0

    def known_down(self) -> bool:
        return time.monotonic() < self.down_until

    def failed(self) -> None:
        from django.conf import settings

        self.down_until = time.monotonic() + settings.CDP_BROKER_RETRY_SECONDS

    def recovered(self) -> None:
        self.down_until = 0.0


broker_health = BrokerHealth()


def task_publish(task, *args):
    """Queue `task(*args)`; the AsyncResult, or None when the broker cannot take it.

    A person's request never fails for that: the change it made is committed, the error is
    logged (once per outage, not once per request), and the work is caught up once the broker is
    back: every worker queues `CDP_TASKS_ON_BROKER_CONNECT` when it reconnects, and Celery beat's
    scheduled runs (the resolve sweep, the hourly segment refresh) run again.
    """
    if broker_health.known_down():
        return None
    try:
        result = task.delay(*args)
    except BROKER_ERRORS:
        broker_health.failed()
        logger.exception("task could not be queued", extra={"task_name": task.name})
        return None
    broker_health.recovered()
    return result


class CatchUpOnBrokerConnect(bootsteps.StartStopStep):
    """Queues the catch-up tasks each time a worker's consumer (re)connects to the broker.

    Celery restarts the consumer's steps after it loses the broker and connects again, so this
    runs at start and after every outage: events accepted while the broker was down are resolved
    without waiting for beat, or without beat at all. The tasks are named in settings, so this
    module imports no app.
    """

    requires = ("celery.worker.consumer.connection:Connection",)

    def start(self, consumer) -> None:
        from django.conf import settings

        for name in settings.CDP_TASKS_ON_BROKER_CONNECT:
            try:
                consumer.app.send_task(name)
            except BROKER_ERRORS:
                logger.warning("catch-up task could not be queued", extra={"task_name": name})


app.steps["consumer"].add(CatchUpOnBrokerConnect)


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


@signals.task_failure.connect
def _record_task_failure(task_id=None, exception=None, sender=None, **_kwargs):
    # Kept for the System page; recording must never turn one failure into two.
    from .task_failures import task_failure_record

    try:
        task_failure_record(
            task_name=getattr(sender, "name", "") or "", task_id=task_id or "", error=exception
        )
    except Exception:
        logger.exception("task failure could not be recorded", extra={"task_id": task_id})


@signals.setup_logging.connect
def _use_django_logging(**_kwargs):
    # Connecting this signal stops Celery from replacing the logging set up by Django's settings.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
