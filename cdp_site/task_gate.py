"""Asking for a task that takes all the work waiting for it: one waiting task is enough.

Identity resolution takes every unresolved event there is, and the real-time segment refresh
every waiting request, so a second task queued while a first one still waits in the broker would
find nothing left to do; publishing it costs the request (or the resolution batch) more than its
own work. With Redis as the broker, a flag per gate therefore records that a task is waiting:
a caller that finds it set publishes nothing, and the task clears it as it starts, before it
takes any work.

Why no work is left behind: a caller checks the flag only after its work is committed. If the
flag is set, the waiting task has not started yet, so it takes that work when it does. If the
flag is gone, the caller publishes a task of its own. The flag expires after `seconds`, so a task
lost with its flag set holds back the next one that long at most; beat's sweeps and the workers'
catch-up on (re)connecting take anything else. Other brokers get one task per call.
"""

import logging
from dataclasses import dataclass
from functools import cache

import redis
from celery import current_app

from .celery import broker_health, task_publish

logger = logging.getLogger(__name__)


@cache
def flag_store() -> redis.Redis | None:
    """The Redis of the broker, where the flags live; None for inline tasks or other brokers."""
    conf = current_app.conf
    url = conf.broker_url or ""
    if conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        # Inline tasks run at once and clear nothing; other brokers keep one task per call.
        return None
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@dataclass(frozen=True)
class TaskGate:
    """One waiting task at a time for one kind of work, flagged under `key`."""

    key: str
    seconds: int = 10

    def request(self, task) -> None:
        """Queue `task` unless one is already waiting to start (see the module docstring)."""
        if broker_health.known_down():
            # The work is committed; the workers' catch-up when the broker returns (or beat's
            # sweep) takes it. Touching the flag would wait on the same dead Redis.
            return
        store = flag_store()
        if store is not None:
            try:
                if not store.set(self.key, "1", nx=True, ex=self.seconds):
                    return
            except redis.RedisError:
                # The flag is an optimisation: without it, publish as if there were none.
                logger.warning("task flag unavailable; publishing anyway", extra={"key": self.key})
        if task_publish(task) is None:
            # No task will clear the flag: drop it for the next caller.
            self.started()

    def started(self) -> None:
        """Called by the task before it takes any work: later callers must queue again."""
        store = flag_store()
        if store is None:
            return
        try:
            store.delete(self.key)
        except redis.RedisError:
            # The flag expires on its own; until then callers rely on the running task.
            logger.warning("task flag could not be cleared", extra={"key": self.key})
