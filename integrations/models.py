"""Sources of customer data. Destinations and syncs join them as they are built."""

import secrets

from django.conf import settings
from django.db import models


def generate_write_key() -> str:
    """A write key: 32 unguessable URL-safe characters, the only credential a tracking SDK sends."""
    return secrets.token_urlsafe(24)


class Source(models.Model):
    class Kind(models.TextChoices):
        TRACKING_API = "tracking_api", "Tracking API"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.TRACKING_API)
    write_key = models.CharField(max_length=64, unique=True, default=generate_write_key)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="source_name_unique")]

    def __str__(self) -> str:
        return self.name
