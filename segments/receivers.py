"""Real-time membership: record what identity resolution and merges changed, and ask for one
refresh that serves every request waiting.

The requests are written in the signal's transaction and the refresh is asked for with
`on_commit`: the profiles signals run every receiver in one transaction, so the refresh runs
after `compliance` has recorded or moved the consent the same change carried, and reads it as it
now stands. However many batches are resolved while a refresh runs, the next serves them all
(`cdp_site.task_gate`: one waiting task is enough).
"""

from django.db import transaction

from cdp_site.celery import task_publish
from cdp_site.task_gate import TaskGate
from profiles.signals import (
    events_resolved,
    profile_merge_undone,
    profiles_merged,
    profiles_rebuilt,
)

REFRESH_GATE = TaskGate("cdp:segments:refresh-pending-waiting")


def refresh_pending_request() -> None:
    """Queue the real-time refresh unless one is already waiting to start."""
    from .tasks import segments_refresh_pending_task

    REFRESH_GATE.request(segments_refresh_pending_task)


def on_events_resolved(sender, *, profile_ids, event_ids=(), events_between=None, **_kwargs):
    from .services import refresh_requests_for_events

    if event_ids and refresh_requests_for_events(event_ids=event_ids, between=events_between):
        transaction.on_commit(refresh_pending_request)


def _profiles_changed(profile_ids) -> None:
    from .services import refresh_requests_for_profiles

    if refresh_requests_for_profiles(profile_ids=profile_ids):
        transaction.on_commit(refresh_pending_request)


def on_profiles_merged(sender, *, merges, **_kwargs):
    _profiles_changed(profile_id for pair in merges for profile_id in pair)


def on_merge_undone(sender, *, winner_id, loser_id, **_kwargs):
    _profiles_changed([winner_id, loser_id])


def on_profiles_rebuilt(sender, **_kwargs):
    # Every profile may have changed: every segment is refreshed in full.
    from .tasks import segments_refresh_all_task

    transaction.on_commit(lambda: task_publish(segments_refresh_all_task))


def connect() -> None:
    events_resolved.connect(on_events_resolved, dispatch_uid="segments.events_resolved")
    profiles_merged.connect(on_profiles_merged, dispatch_uid="segments.profiles_merged")
    profile_merge_undone.connect(on_merge_undone, dispatch_uid="segments.profile_merge_undone")
    profiles_rebuilt.connect(on_profiles_rebuilt, dispatch_uid="segments.profiles_rebuilt")
