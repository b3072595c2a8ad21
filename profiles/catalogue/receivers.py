"""Keeping the catalogue current: each resolved batch's new fields are learnt in the batch's own
transaction (one grouped query per JSON column, never a query per event), and a worker that
starts queues a full scan so that a fresh install has its catalogue within seconds."""

from __future__ import annotations

from cdp_site.celery import task_publish


def on_events_resolved(sender, *, profile_ids, event_ids=(), events_between=None, **_kwargs):
    from .scan import catalogue_learn_batch

    catalogue_learn_batch(profile_ids=profile_ids, event_ids=event_ids, between=events_between)


def on_worker_ready(sender=None, **_kwargs):
    from ..tasks import catalogue_refresh_task

    task_publish(catalogue_refresh_task)


def connect() -> None:
    from celery.signals import worker_ready

    from ..signals import events_resolved

    events_resolved.connect(on_events_resolved, dispatch_uid="profiles.catalogue")
    worker_ready.connect(on_worker_ready, dispatch_uid="profiles.catalogue_on_worker_ready")
