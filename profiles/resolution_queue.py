"""Asking for identity resolution after new events are committed: one waiting task is enough.

Every request that stores events asks for resolution once its transaction has committed. The
resolve task takes every unresolved event there is, so a second task queued while a first one
still waits in the broker would find nothing left to do; publishing it costs the request more
than its own insert. With Redis as the broker, a flag therefore records that a task is waiting:
a request that finds it set publishes nothing, and the task clears it as it starts, before it
claims any event.

Why no event is left behind: a request checks the flag only after its events are committed. If
the flag is set, the waiting task has not started yet, so its first claim comes later and sees
those events. If the flag is gone, the request publishes a task of its own. The flag expires
after `FLAG_SECONDS`, so a task lost with its flag set holds back the next one that long at most;
the beat's resolution sweep catches anything else. Other brokers get one task per request.
"""

import logging
from functools import cache

import redis
from celery import current_app

from cdp_site.celery import broker_health, task_publish

logger = logging.getLogger(__name__)

FLAG_KEY = "cdp:profiles:resolve-task-waiting"
FLAG_SECONDS = 10


@cache
def _flag_store() -> redis.Redis | None:
    conf = current_app.conf
    url = conf.broker_url or ""
    if conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        # Inline tasks run at once and clear nothing; other brokers keep one task per request.
        return None
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def resolution_request() -> None:
    """Queue the resolve task unless one is already waiting to start (see the module docstring)."""
    # Imported here: the task module pulls in the resolver, which the web process rarely needs.
    from .tasks import events_resolve_task

    if broker_health.known_down():
        # The events are committed; the workers' catch-up when the broker returns (or beat's
        # sweep) resolves them. Touching the flag would wait on the same dead Redis.
        return
    store = _flag_store()
    if store is not None:
        try:
            if not store.set(FLAG_KEY, "1", nx=True, ex=FLAG_SECONDS):
                return
        except redis.RedisError:
            # The flag is an optimisation: without it, publish as if there were none.
            logger.warning("resolve-task flag unavailable; publishing anyway", exc_info=True)
    if task_publish(events_resolve_task) is None:
        # The events are committed and the beat's sweep resolves them; the client's request
        # succeeded. No task will clear the flag, so drop it for the next request.
        resolution_started()


def resolution_started() -> None:
    """Called by the resolve task before it claims events: later requests must queue again."""
    store = _flag_store()
    if store is None:
        return
    try:
        store.delete(FLAG_KEY)
    except redis.RedisError:
        # The flag expires on its own; until then requests rely on the running task.
        logger.warning("resolve-task flag could not be cleared", exc_info=True)
