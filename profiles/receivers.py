"""The profiles app following its own announcements: event aggregates and computed traits.

The aggregates are recomputed inside the announcement's transaction, so the segment refresh
that other receivers queue for the same change (it runs at commit) reads them up to date. The
computed traits of the profiles involved are recomputed by one task per announcement (a batch
of profiles, never a task per event).
"""

from django.db import transaction

from cdp_site.celery import task_publish

from .signals import events_resolved, profile_merge_undone, profiles_merged, profiles_rebuilt


def _recompute_later(profile_ids) -> None:
    from .tasks import computed_traits_refresh_task

    ids = sorted({int(pk) for pk in profile_ids})
    if ids:
        transaction.on_commit(lambda: task_publish(computed_traits_refresh_task, ids))


def on_events_resolved(sender, *, profile_ids, event_ids=(), events_between=None, **_kwargs):
    from .aggregates import aggregates_refresh_events

    if event_ids:
        aggregates_refresh_events(event_ids=event_ids, between=events_between)
    _recompute_later(profile_ids)


def on_profiles_merged(sender, *, merges, **_kwargs):
    from .aggregates import aggregates_refresh_profiles

    ids = {profile_id for pair in merges for profile_id in pair}
    aggregates_refresh_profiles(profile_ids=ids)
    _recompute_later(ids)


def on_merge_undone(sender, *, winner_id, loser_id, **_kwargs):
    from .aggregates import aggregates_refresh_profiles

    aggregates_refresh_profiles(profile_ids=[winner_id, loser_id])
    _recompute_later([winner_id, loser_id])


def on_profiles_rebuilt(sender, **_kwargs):
    from .aggregates import aggregates_forget
    from .tasks import computed_traits_compute_task

    # Events changed profiles wholesale: raw events answer until the full run rebuilds them.
    aggregates_forget()
    transaction.on_commit(lambda: task_publish(computed_traits_compute_task))


def connect() -> None:
    events_resolved.connect(on_events_resolved, dispatch_uid="profiles.events_resolved")
    profiles_merged.connect(on_profiles_merged, dispatch_uid="profiles.profiles_merged")
    profile_merge_undone.connect(on_merge_undone, dispatch_uid="profiles.profile_merge_undone")
    profiles_rebuilt.connect(on_profiles_rebuilt, dispatch_uid="profiles.profiles_rebuilt")
