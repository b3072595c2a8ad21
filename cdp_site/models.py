"""Models of the project package: API tokens as the admin shows them, and the home dashboard's
cached aggregates."""

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
