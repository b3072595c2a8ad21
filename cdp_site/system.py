"""What the System page reports besides the worker check: the broker's queue lengths, the tasks
that failed lately, and when Celery beat last started a scheduled task.

Queue lengths are read from the broker itself with a passive queue declaration, which every
kombu transport the product supports answers: Redis (the lengths of the queue's lists), RabbitMQ
(the queue's message count) and `make run`'s filesystem broker (the queue's message files). A
broker that cannot be reached, or a transport that does not count, is reported as such.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from amqp.exceptions import NotFound
from django.db.models import Max
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import ChannelError

from .celery import BROKER_ERRORS, app, broker_health
from .queues import WorkQueue

logger = logging.getLogger("cdp.system")

# Beat writes its last runs to the database every few minutes (django-celery-beat syncs them
# every 3 minutes) and several tasks run every minute: older than this, beat is likely stopped.
BEAT_STALE_AFTER = dt.timedelta(minutes=10)


@dataclass
class QueueReport:
    lengths: dict[str, int | None] = field(default_factory=dict)
    transport: str = ""
    # Why lengths are missing, for people: empty when every queue was counted.
    problem: str = ""


def _transport_name(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else url


def queue_lengths() -> QueueReport:
    """Messages waiting in each work queue, as the broker counts them."""
    report = QueueReport(transport=_transport_name(str(app.conf.broker_url or "")))
    if broker_health.known_down():
        report.problem = "The broker could not be reached a moment ago; the lengths are unknown."
        return report
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            channel = connection.channel()
            try:
                for queue in WorkQueue:
                    report.lengths[queue.value], channel = _queue_length(
                        connection, channel, queue.value
                    )
            finally:
                channel.close()
    except NotImplementedError:
        report.problem = f"The {report.transport} broker does not report queue lengths."
    except BROKER_ERRORS as error:
        logger.warning("queue lengths could not be read", extra={"error": str(error)})
        report.problem = (
            "The broker could not be reached, so the queue lengths are unknown. Is it running, "
            "and does CELERY_BROKER_URL point at it?"
        )
    return report


def _queue_length(connection, channel, name: str):
    """(messages in queue `name`, the channel to go on with)."""
    try:
        return channel.queue_declare(queue=name, passive=True).message_count, channel
    except (ChannelError, NotFound):
        # No such queue yet (Redis drops an empty list; RabbitMQ before a worker declared it):
        # nothing waits in it. RabbitMQ closes the channel on this answer, so open another.
        return 0, connection.channel()


@dataclass(frozen=True)
class BeatReport:
    last_run_at: dt.datetime | None
    task_name: str
    stale: bool


def beat_last_run() -> BeatReport:
    """When beat last started a scheduled task (as its database scheduler recorded it)."""
    last = PeriodicTask.objects.filter(enabled=True).aggregate(at=Max("last_run_at"))["at"]
    name = ""
    if last is not None:
        name = (
            PeriodicTask.objects.filter(last_run_at=last).values_list("name", flat=True).first()
            or ""
        )
    stale = last is None or timezone.now() - last > BEAT_STALE_AFTER
    return BeatReport(last_run_at=last, task_name=name, stale=stale)
