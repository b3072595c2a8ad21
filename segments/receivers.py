"""Real-time membership: react to identity resolution and merges with one task per signal.

Each task is queued with `on_commit`: the profiles signals run every receiver in one
transaction, so the refresh runs after `compliance` has recorded or moved the consent the same
change carried, and reads it as it now stands.
"""

from django.db import transaction

from cdp_site.celery import task_publish
from profiles.signals import (
    events_resolved,
    profile_merge_undone,
    profiles_merged,
    profiles_rebuilt,
)


def _queue(profile_ids: list[int], event_ids: list[int] | None) -> None:
    from .tasks import segments_refresh_for_profiles_task

    profile_ids = sorted({int(i) for i in profile_ids})
    event_ids = None if event_ids is None else sorted({int(i) for i in event_ids})
    if profile_ids:
        transaction.on_commit(
            lambda: task_publish(segments_refresh_for_profiles_task, profile_ids, event_ids)
        )


def on_events_resolved(sender, *, profile_ids, event_ids=(), **_kwargs):
    _queue(list(profile_ids), list(event_ids or []))


def on_profiles_merged(sender, *, merges, **_kwargs):
    _queue([profile_id for pair in merges for profile_id in pair], None)


def on_merge_undone(sender, *, winner_id, loser_id, **_kwargs):
    _queue([winner_id, loser_id], None)


def on_profiles_rebuilt(sender, **_kwargs):
    # Every profile may have changed: every segment is refreshed in full.
    from .tasks import segments_refresh_all_task

    transaction.on_commit(lambda: task_publish(segments_refresh_all_task))


def connect() -> None:
    events_resolved.connect(on_events_resolved, dispatch_uid="segments.events_resolved")
    profiles_merged.connect(on_profiles_merged, dispatch_uid="segments.profiles_merged")
    profile_merge_undone.connect(on_merge_undone, dispatch_uid="segments.profile_merge_undone")
    profiles_rebuilt.connect(on_profiles_rebuilt, dispatch_uid="segments.profiles_rebuilt")
