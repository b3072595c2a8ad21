"""Models of the project package: API tokens as the admin shows them, the home dashboard's
cached aggregates, and the background tasks that failed (for the System page)."""

from django.db import models
from rest_framework.authtoken.models import TokenProxy


class ApiToken(TokenProxy):
    """An API token named by the start of its key only.

    A token is a password: the admin's lists, titles and breadcrumbs name it by the model's
    text, which for DRF's own token is the whole key.
    """

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key[:6]}…"


class DashboardAggregate(models.Model):
    """The numbers behind one panel of the home dashboard, computed by the worker.

    Pages read one row per panel, so the home page renders in milliseconds however large the
    event table; `computed_at` is the "as of" time the panel shows.
    """

    key = models.CharField(max_length=100, primary_key=True)
    value = models.JSONField(default=dict)
    computed_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key} as of {self.computed_at:%Y-%m-%d %H:%M}"


class TaskFailure(models.Model):
    """A background task that ended in an error, kept for the System page (newest first).

    Written by the workers' `task_failure` signal; rows older than `TASK_FAILURE_KEEP_DAYS` are
    pruned as new ones come in, so the table stays small.
    """

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, blank=True, default="")
    # The exception's class and message (never its arguments, which may hold personal data).
    error = models.TextField(blank=True, default="")
    failed_at = models.DateTimeField()

    class Meta:
        ordering = ["-failed_at", "-id"]
        indexes = [models.Index(fields=["-failed_at"], name="task_failure_at")]

    def __str__(self) -> str:
        return f"{self.task_name} failed at {self.failed_at:%Y-%m-%d %H:%M:%S}"
