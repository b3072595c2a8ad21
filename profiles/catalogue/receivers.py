"""Keeping the catalogue current: each resolved batch is handed, by ids, to a task that learns
its new fields (one grouped query per JSON column, never a query per event) on the catalogue's
queue, so resolution never waits for it; a worker that starts queues a full scan so that a fresh
install has its catalogue within seconds. Until a new field is learnt it is masked."""

from __future__ import annotations

from cdp_site.celery import task_publish


def on_events_resolved(sender, *, profile_ids, event_ids=(), events_between=None, **_kwargs):
    from django.db import transaction

    from ..tasks import catalogue_learn_batch_task

    if not profile_ids and not event_ids:
        return
    between = [moment.isoformat() for moment in events_between] if events_between else None
    profiles, events = list(profile_ids), list(event_ids)
    transaction.on_commit(
        lambda: task_publish(catalogue_learn_batch_task, profiles, events, between)
    )


def on_worker_ready(sender=None, **_kwargs):
    from ..tasks import catalogue_refresh_task

    task_publish(catalogue_refresh_task)


def connect() -> None:
    from celery.signals import worker_ready

    from ..signals import events_resolved

    events_resolved.connect(on_events_resolved, dispatch_uid="profiles.catalogue")
    worker_ready.connect(on_worker_ready, dispatch_uid="profiles.catalogue_on_worker_ready")
