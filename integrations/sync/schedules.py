"""Schedules of pull sources, kept as django-celery-beat rows that beat's database scheduler
reads: a change made in a page takes effect without restarting anything.

The source keeps the schedule a person chose (off, every N minutes, hourly, daily at a time);
`source_schedule_set` writes the matching PeriodicTask in the same transaction.
"""

import json
from datetime import datetime, time

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from cdp_site.errors import InvalidInputError
from integrations.models import Source

MIN_EVERY_MINUTES = 5
MAX_EVERY_MINUTES = 7 * 24 * 60


def _task_name(source: Source) -> str:
    return f"source-{source.pk}-sync"


def source_schedule_set(
    *, source: Source, schedule: str, every_minutes: int | None = None, at: time | None = None
) -> Source:
    """Set when a source runs by itself; InvalidInputError for a schedule that cannot be kept."""
    if schedule not in Source.Schedule.values:
        raise InvalidInputError("Choose off, every N minutes, hourly or daily.", field="schedule")
    if schedule == Source.Schedule.MINUTES and (
        every_minutes is None or not MIN_EVERY_MINUTES <= every_minutes <= MAX_EVERY_MINUTES
    ):
        raise InvalidInputError(
            f"Run every {MIN_EVERY_MINUTES} to {MAX_EVERY_MINUTES} minutes.",
            field="every_minutes",
        )
    if schedule == Source.Schedule.DAILY and at is None:
        at = time(3, 0)
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        source.schedule = schedule
        if every_minutes is not None:
            source.schedule_every_minutes = every_minutes
        source.schedule_at = at if schedule == Source.Schedule.DAILY else source.schedule_at
        task = source.schedule_task
        if schedule == Source.Schedule.OFF:
            source.schedule_task = None
            source.save()
            if task is not None:
                task.delete()
            return source
        interval = crontab = None
        if schedule == Source.Schedule.MINUTES:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=source.schedule_every_minutes, period=IntervalSchedule.MINUTES
            )
        elif schedule == Source.Schedule.HOURLY:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=1, period=IntervalSchedule.HOURS
            )
        else:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=str(at.minute),
                hour=str(at.hour),
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone="UTC",
            )
        task, _ = PeriodicTask.objects.update_or_create(
            name=_task_name(source),
            defaults={
                "task": "integrations.sync_scheduled",
                "args": json.dumps([source.pk]),
                "interval": interval,
                "crontab": crontab,
                "enabled": source.enabled,
                "description": f"Sync of source “{source.name}”",
            },
        )
        source.schedule_task = task
        source.save()
    return source


def source_next_run(source: Source) -> datetime | None:
    """When beat starts the source's next scheduled run; None when it has no schedule."""
    task = source.schedule_task
    if task is None or not task.enabled or not source.enabled:
        return None
    last = task.last_run_at or task.date_changed or timezone.now()
    if timezone.is_naive(last):
        last = timezone.make_aware(last)
    remaining = task.schedule.remaining_estimate(last)
    return max(timezone.now(), timezone.now() + remaining)


def schedule_describe(source: Source) -> str:
    if source.schedule == Source.Schedule.MINUTES:
        return f"Every {source.schedule_every_minutes} minutes"
    if source.schedule == Source.Schedule.DAILY and source.schedule_at is not None:
        return f"Daily at {source.schedule_at:%H:%M} UTC"
    return source.get_schedule_display()
