"""Where each kind of background work runs: one queue per workload, and the routing to them.

Each queue can get workers of its own, on machines of its own (`celery -A cdp_site worker -Q
resolution`), so no kind of work waits behind another: identity resolution never queues behind
a long segment refresh. A worker started without `-Q` serves every queue, as `make run`'s does.
Routing is by task name (`<app>.<task>`), so adding a task to an app needs no change here.
"""

from enum import StrEnum

from kombu import Queue


class WorkQueue(StrEnum):
    RESOLUTION = "resolution"  # identity resolution of stored events
    SEGMENTS = "segments"  # membership refreshes and the data catalogue's scan
    SYNCS = "syncs"  # source and destination runs
    COMPLIANCE = "compliance"  # data subject requests, retention
    INSIGHTS = "insights"  # computed traits, scores, model training, the dashboards' aggregates
    DEFAULT = "default"  # everything else: small, quick tasks (the worker check)


# Task-name patterns (Celery's glob routing) to queues; the first match wins.
TASK_ROUTES: dict[str, dict[str, str]] = {
    # Scores and dashboard aggregates read whole tables for minutes: never ahead of resolution
    # or a segment refresh.
    "*.insights_*": {"queue": WorkQueue.INSIGHTS.value},
    # Creating the event table's partitions ahead is upkeep, not resolution: it must not wait
    # behind a resolution backlog.
    "profiles.event_partitions_*": {"queue": WorkQueue.DEFAULT.value},
    # Computed traits read every profile's events: never in the way of resolution.
    "profiles.computed_traits_*": {"queue": WorkQueue.INSIGHTS.value},
    # The data catalogue's scans serve the builder and masking: resolution never waits for them.
    "profiles.refresh_catalogue": {"queue": WorkQueue.SEGMENTS.value},
    "profiles.catalogue_learn_batch": {"queue": WorkQueue.SEGMENTS.value},
    "profiles.*": {"queue": WorkQueue.RESOLUTION.value},
    "segments.*": {"queue": WorkQueue.SEGMENTS.value},
    "integrations.*": {"queue": WorkQueue.SYNCS.value},
    "compliance.*": {"queue": WorkQueue.COMPLIANCE.value},
}

# Declared up front, so a worker without `-Q` consumes all of them (not only the default one).
TASK_QUEUES: tuple[Queue, ...] = tuple(Queue(queue.value) for queue in WorkQueue)


def queue_for(task_name: str) -> str:
    """The queue a task of this name is routed to."""
    from fnmatch import fnmatchcase

    for pattern, route in TASK_ROUTES.items():
        if fnmatchcase(task_name, pattern):
            return route["queue"]
    return WorkQueue.DEFAULT.value
