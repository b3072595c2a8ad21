"""Asking for identity resolution after new events are committed: one waiting task is enough.

Every request that stores events asks for resolution once its transaction has committed; the
resolve task takes every unresolved event there is, so a task already waiting serves them too
(`cdp_site.task_gate` says how, and why nothing is missed).
"""

from cdp_site.task_gate import TaskGate

RESOLUTION_GATE = TaskGate("cdp:profiles:resolve-task-waiting")
FLAG_KEY = RESOLUTION_GATE.key


def resolution_request() -> None:
    """Queue the resolve task unless one is already waiting to start."""
    # Imported here: the task module pulls in the resolver, which the web process rarely needs.
    from .tasks import events_resolve_task

    RESOLUTION_GATE.request(events_resolve_task)


def resolution_started() -> None:
    """Called by the resolve task before it claims events: later requests must queue again."""
    RESOLUTION_GATE.started()
