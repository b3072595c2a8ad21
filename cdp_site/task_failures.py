"""Background tasks that failed: recorded by the workers (`task_failure` signal), read by the
System page. The table keeps `TASK_FAILURE_KEEP_DAYS` days; older rows go as new ones come."""

import datetime as dt

from django.utils import timezone

from .models import TaskFailure

TASK_FAILURE_KEEP_DAYS = 7
ERROR_MAX_CHARS = 500


def task_failure_record(*, task_name: str, task_id: str, error: BaseException | None) -> None:
    """Keep one failure: the task, and the error's class and message (cut short)."""
    now = timezone.now()
    text = f"{type(error).__name__}: {error}" if error is not None else ""
    TaskFailure.objects.create(
        task_name=task_name[:200],
        task_id=task_id[:64],
        error=text[:ERROR_MAX_CHARS],
        failed_at=now,
    )
    TaskFailure.objects.filter(
        failed_at__lt=now - dt.timedelta(days=TASK_FAILURE_KEEP_DAYS)
    ).delete()


def task_failures_since(since: dt.datetime, limit: int = 20) -> tuple[int, list[TaskFailure]]:
    """How many tasks failed since `since`, and the newest `limit` of them (read on the
    `failed_at` index)."""
    rows = TaskFailure.objects.filter(failed_at__gte=since)
    return rows.count(), list(rows.order_by("-failed_at", "-id")[:limit])
