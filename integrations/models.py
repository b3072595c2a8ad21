"""Sources of customer data (the tracking API's write keys) and the messages they quarantined."""

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


class QuarantinedMessage(models.Model):
    """A tracking message that failed validation, kept with its reason until an admin replays it.

    The payload is kept as JSON text escaped to ASCII, so that anything a client can send (NUL
    characters, lone surrogates) can be stored and shown back, whatever the database.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        REPLAYED = "replayed", "Replayed"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="quarantine")
    # Position of the message in its request (0 for a single call).
    index = models.PositiveIntegerField(default=0)
    code = models.CharField(max_length=64)
    reason = models.TextField()
    payload = models.TextField()
    # Batch-level fields the message was sent with, so a replay merges them as the first try did.
    batch_context = models.TextField(default="null")
    batch_integrations = models.TextField(default="null")
    sent_at = models.CharField(max_length=100, blank=True, default="")
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(
                fields=["source", "status", "-received_at"], name="quarantine_source_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} at {self.received_at:%Y-%m-%d %H:%M:%S}"
