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
    # After a rotation the key it replaced keeps working until `previous_key_expires_at`, so the
    # SDKs can be given the new key without losing a message in between.
    previous_write_key = models.CharField(max_length=64, blank=True, default="")
    previous_key_expires_at = models.DateTimeField(null=True, blank=True)
    key_rotated_at = models.DateTimeField(null=True, blank=True)
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
        indexes = [
            # The tracking API looks a key up among the previous keys still in their grace period.
            models.Index(
                fields=["previous_write_key"],
                name="source_previous_write_key",
                condition=~Q(previous_write_key=""),
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_tracking(self) -> bool:
        return self.kind == self.Kind.TRACKING_API


class SyncRun(models.Model):
    """One run of a pull source, an audience sync or an event forward (`kind`): what it read and
    stored or sent, how far it got, how it ended."""

    class Kind(models.TextChoices):
        SOURCE = "source", "Source sync"
        AUDIENCE = "audience", "Audience sync"
        FORWARD = "forward", "Event forwarding"

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
        REALTIME = "realtime", "Real-time change"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SOURCE)
    # Exactly one of these, as `kind` says.
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.CASCADE, related_name="sync_runs"
    )
    audience_sync = models.ForeignKey(
        "integrations.AudienceSync",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sync_runs",
    )
    event_forward = models.ForeignKey(
        "integrations.EventForward",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sync_runs",
    )
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
    # Audience runs: the difference planned (records_read = entered + exited; records_stored =
    # delivered; records_failed = dead letters), and the members left out, by reason.
    records_entered = models.PositiveBigIntegerField(default=0)
    records_exited = models.PositiveBigIntegerField(default=0)
    records_left_out = models.PositiveBigIntegerField(default=0)
    left_out_reasons = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(status__in=["queued", "running"]),
                name="syncrun_one_active_per_source",
            ),
            models.UniqueConstraint(
                fields=["audience_sync"],
                condition=Q(status__in=["queued", "running"]),
                name="syncrun_one_active_per_audience",
            ),
            models.UniqueConstraint(
                fields=["event_forward"],
                condition=Q(status__in=["queued", "running"]),
                name="syncrun_one_active_per_forward",
            ),
        ]
        indexes = [
            models.Index(fields=["source", "-created_at"], name="syncrun_source_created"),
            models.Index(fields=["audience_sync", "-created_at"], name="syncrun_audience_created"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.kind}, {self.status})"

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
        DISCARDED = "discarded", "Discarded"

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
    discarded_at = models.DateTimeField(null=True, blank=True)
    discarded_by = models.ForeignKey(
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


class Destination(models.Model):
    """Where audiences and events go: a destination connector (its `kind` is the connector's
    key) with its settings, encrypted secrets, health and pause state."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32)
    # The connector's settings that are not secret, by field name.
    config = models.JSONField(default=dict, blank=True)
    # A MultiFernet token of a JSON object of the secret settings: read and written only through
    # integrations.secrets, never shown back.
    secrets_encrypted = models.TextField(blank=True, default="")
    # Paused by an admin, or by delivery after too many failed runs in a row; resumed by an admin.
    paused = models.BooleanField(default=False)
    paused_reason = models.TextField(blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Health, kept by delivery: the last batch delivered, and records delivered and failed so far.
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    records_delivered = models.PositiveBigIntegerField(default=0)
    records_failed = models.PositiveBigIntegerField(default=0)
    # The per-destination delivery lock: the run holding it and until when (renewed per batch), so
    # two runs never write to one destination at once, while other destinations go their own way.
    lease_run = models.ForeignKey(
        "integrations.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="destination_name_unique")]
        # Granted per destination to a team (django-guardian): its marketers may send to it.
        permissions = [("use_destination", "Can send audiences to the destination")]

    def __str__(self) -> str:
        return self.name


class AudienceSync(models.Model):
    """A segment kept in step with a destination: which fields go, under which consent purpose,
    and when (started by a person, every N minutes, or within seconds of a membership change)."""

    class Mode(models.TextChoices):
        MANUAL = "manual", "Only when started"
        INTERVAL = "interval", "Every N minutes"
        REALTIME = "realtime", "Real time"

    segment = models.ForeignKey(
        "segments.Segment", on_delete=models.CASCADE, related_name="audience_syncs"
    )
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="audience_syncs"
    )
    # {destination field: "trait:<key>" | "identifier:<kind>"}: what each record carries.
    field_mapping = models.JSONField(default=dict, blank=True)
    # The key of the consent purpose the destination serves ("" only for the company's own
    # systems): a plain key, as `integrations` holds no relation into `compliance`.
    consent_purpose = models.CharField(max_length=64, blank=True, default="")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MANUAL)
    interval_minutes = models.PositiveIntegerField(default=60)
    enabled = models.BooleanField(default=True)
    # Set by a membership change of a real-time sync's segment; cleared when its run starts.
    realtime_pending = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["segment", "destination"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "destination"], name="audiencesync_segment_destination"
            )
        ]

    def __str__(self) -> str:
        return f"Segment {self.segment_id} to {self.destination_id}"

    @property
    def audience_key(self) -> str:
        return f"cdp-sync-{self.pk}"


class AudienceSyncMember(models.Model):
    """A profile the destination holds for a sync, and the hash of what it was sent: the record
    the next run's difference is computed from, written in the transaction of each batch."""

    sync = models.ForeignKey(AudienceSync, on_delete=models.CASCADE, related_name="+")
    # A plain id: an erased profile's row stays until the next run removes it at the destination.
    profile_id = models.BigIntegerField()
    hash = models.CharField(max_length=32)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sync", "profile_id"], name="audiencemember_unique")
        ]

    def __str__(self) -> str:
        return f"Profile {self.profile_id} held for sync {self.sync_id}"


class AudiencePlanEntry(models.Model):
    """One record of a run's difference, numbered into batches when the run starts: a resumed
    run delivers the same batches (the same batch ids) from its checkpoint on."""

    class Action(models.TextChoices):
        ENTER = "e", "Add or update"
        EXIT = "x", "Remove"

    run = models.ForeignKey("integrations.SyncRun", on_delete=models.CASCADE, related_name="+")
    batch = models.PositiveIntegerField()
    action = models.CharField(max_length=1, choices=Action.choices)
    profile_id = models.BigIntegerField()
    hash = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["run", "batch"], name="audienceplan_run_batch")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.profile_id} (run {self.run_id})"


class DeadLetter(models.Model):
    """A record a destination would not take after its retries: kept with the destination's own
    reason until an admin fixes the cause and replays it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        REPLAYED = "replayed", "Replayed"
        DISCARDED = "discarded", "Discarded"

    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="dead_letters"
    )
    sync = models.ForeignKey(
        AudienceSync, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    run = models.ForeignKey(
        "integrations.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    profile_id = models.BigIntegerField()
    action = models.CharField(max_length=1, choices=AudiencePlanEntry.Action.choices)
    reason = models.TextField()
    attempts = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["destination", "status", "-created_at"], name="deadletter_dest"),
            models.Index(fields=["sync", "profile_id"], name="deadletter_sync_profile"),
        ]

    def __str__(self) -> str:
        return f"Profile {self.profile_id} to {self.destination_id}: {self.reason[:40]}"


class EventForward(models.Model):
    """Events of chosen sources, filtered by type and name, forwarded to a destination that
    speaks the tracking API; `last_event_id` is the checkpoint of what went."""

    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="event_forwards"
    )
    # Source ids ([] = every source), event types ([] = every type), track event or page names.
    source_ids = models.JSONField(default=list, blank=True)
    types = models.JSONField(default=list, blank=True)
    names = models.JSONField(default=list, blank=True)
    last_event_id = models.BigIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"Forwarding to {self.destination_id}"
