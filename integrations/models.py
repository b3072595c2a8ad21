"""Sources of customer data (the tracking API's write keys and the connectors' pulls and pushes),
their sync runs, and the messages the tracking API quarantined."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_celery_beat.models import PeriodicTask


def generate_write_key() -> str:
    """A write key: 32 unguessable URL-safe characters, the only credential a tracking SDK sends."""
    return secrets.token_urlsafe(24)


class Source(models.Model):
    """Where data comes from: the tracking API (a write key), or a connector (its `kind` is the
    connector's key) with its settings, encrypted secrets, schedule and checkpoint."""

    class Kind(models.TextChoices):
        # Other kinds are connector keys (integrations.connectors.registry), not listed here.
        TRACKING_API = "tracking_api", "Tracking API"

    class Schedule(models.TextChoices):
        OFF = "off", "Only when started"
        MINUTES = "minutes", "Every N minutes"
        HOURLY = "hourly", "Hourly"
        DAILY = "daily", "Daily"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, default=Kind.TRACKING_API)
    write_key = models.CharField(max_length=64, unique=True, default=generate_write_key)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The connector's settings that are not secret, by field name.
    config = models.JSONField(default=dict, blank=True)
    # A MultiFernet token of a JSON object of the secret settings: read and written only through
    # integrations.secrets, never shown back.
    secrets_encrypted = models.TextField(blank=True, default="")
    # The last committed state of a pull source: the next run reads what came after it.
    checkpoint = models.JSONField(default=dict, blank=True)
    schedule = models.CharField(max_length=16, choices=Schedule.choices, default=Schedule.OFF)
    schedule_every_minutes = models.PositiveIntegerField(default=60)
    # Daily runs start at this time of day (UTC).
    schedule_at = models.TimeField(null=True, blank=True)
    # The beat entry that starts scheduled runs (django-celery-beat's database scheduler reads
    # it, so a change takes effect without a restart); kept in step by the schedule service.
    schedule_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="source_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_tracking(self) -> bool:
        return self.kind == self.Kind.TRACKING_API


class SyncRun(models.Model):
    """One run of a pull source: what it read and stored, how far it got, how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Started by a person"
        SCHEDULE = "schedule", "Schedule"
        API = "api", "API"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    records_read = models.PositiveBigIntegerField(default=0)
    records_stored = models.PositiveBigIntegerField(default=0)
    records_unchanged = models.PositiveBigIntegerField(default=0)
    records_failed = models.PositiveBigIntegerField(default=0)
    progress_done = models.PositiveBigIntegerField(null=True, blank=True)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with every committed batch: a running run without one for a while lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    checkpoint = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Set by the worker that claimed the run; a worker that finds another token has lost the run
    # (it was resumed elsewhere) and commits nothing more.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    # Transient failures retried in this run, and how many times its worker was lost.
    retries = models.PositiveIntegerField(default=0)
    resumes = models.PositiveIntegerField(default=0)
    # Errors beyond those kept as SyncRunError rows are only counted.
    errors_not_kept = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(status__in=["queued", "running"]),
                name="syncrun_one_active_per_source",
            )
        ]
        indexes = [models.Index(fields=["source", "-created_at"], name="syncrun_source_created")]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.source_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or self.heartbeat_at or self.started_at) - self.started_at

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.status == self.Status.SUCCEEDED else None
        return min(100, int(100 * (self.progress_done or 0) / self.progress_total))


class SyncRunError(models.Model):
    """A record a run could not store, and why (a bounded number per run)."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="errors")
    position = models.CharField(max_length=200)
    reason = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.position}: {self.reason}"


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
