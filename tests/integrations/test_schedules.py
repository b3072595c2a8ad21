"""Schedules live in django-celery-beat's tables: beat's database scheduler installs the
project's fixed entries there and picks up each source's schedule row; a scheduled tick starts
a run (or quietly leaves it to the next tick while one is active)."""

import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from cdp_site import celery_app
from integrations.models import SyncRun
from integrations.services import source_delete, source_enabled_set
from integrations.sync.schedules import source_next_run, source_schedule_set
from integrations.tasks import sync_scheduled_task
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


# The scheduler closes stale database connections as beat does: not inside a test transaction.
@pytest.mark.django_db(transaction=True)
def test_beat_installs_the_fixed_entries_and_reads_source_schedules_from_the_database():
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    source_schedule_set(source=source, schedule="hourly")
    scheduler = DatabaseScheduler(app=celery_app, lazy=False)
    entries = scheduler.schedule
    for name in (
        "profiles-resolve-sweep",
        "segments-refresh-pending-sweep",
        "segments-refresh-all",
        "profiles-refresh-catalogue",
        "integrations-sync-runs-sweep",
    ):
        assert name in entries
        assert PeriodicTask.objects.filter(name=name).exists()
    entry = entries[f"source-{source.pk}-sync"]
    assert entry.task == "integrations.sync_scheduled"
    assert entry.args == [source.pk]
    assert entry.schedule.run_every.total_seconds() == 3600


def test_changing_a_schedule_changes_its_row_without_a_restart():
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    source = source_schedule_set(source=source, schedule="minutes", every_minutes=30)
    task_id = source.schedule_task_id
    source = source_schedule_set(source=source, schedule="minutes", every_minutes=10)
    assert source.schedule_task_id == task_id
    task = PeriodicTask.objects.get(pk=task_id)
    assert task.interval.every == 10
    assert source_next_run(source) is not None
    source_enabled_set(source=source, enabled=False)
    task.refresh_from_db()
    assert not task.enabled
    source.refresh_from_db()
    assert source_next_run(source) is None


def test_deleting_a_source_deletes_its_schedule_row():
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    source = source_schedule_set(source=source, schedule="daily")
    assert source.schedule_at.isoformat() == "03:00:00"
    source_delete(source=source)
    assert not PeriodicTask.objects.filter(name=f"source-{source.pk}-sync").exists()


def test_a_scheduled_tick_starts_a_run_and_skips_while_one_is_active(
    django_capture_on_commit_callbacks,
):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    with django_capture_on_commit_callbacks() as callbacks:
        sync_scheduled_task(source.pk)
        sync_scheduled_task(source.pk)
    run = SyncRun.objects.get()
    assert (run.trigger, run.status) == ("schedule", "queued")
    assert len(callbacks) == 1
    sync_scheduled_task(999999)  # a deleted source: nothing, quietly
    assert SyncRun.objects.count() == 1
