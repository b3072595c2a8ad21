"""Consent (purposes and each profile's history of choices) and the audit log."""

from django.conf import settings
from django.db import models
from django.db.models.fields.json import KT


class ConsentPurpose(models.Model):
    """Something a person can agree to, e.g. `email_marketing` or `advertising`, and the lawful
    basis (GDPR Art. 6(1)) the processing for it rests on."""

    class LegalBasis(models.TextChoices):
        CONSENT = "consent", "Consent (Art. 6(1)(a))"
        CONTRACT = "contract", "Contract (Art. 6(1)(b))"
        LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art. 6(1)(c))"
        VITAL_INTERESTS = "vital_interests", "Vital interests (Art. 6(1)(d))"
        PUBLIC_TASK = "public_task", "Public task (Art. 6(1)(e))"
        LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests (Art. 6(1)(f))"

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    legal_basis = models.CharField(
        max_length=32, choices=LegalBasis.choices, default=LegalBasis.CONSENT
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConsentRecord(models.Model):
    """One consent choice. The latest per profile and purpose is in force; the rest is history."""

    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, related_name="consent_records"
    )
    purpose = models.ForeignKey(ConsentPurpose, on_delete=models.CASCADE, related_name="records")
    granted = models.BooleanField()
    recorded_at = models.DateTimeField()
    # A plain source id, as events keep it: compliance holds no relation into `integrations`.
    source_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Where the choice came from: the event that carried it (its id and message id).
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(fields=["profile", "purpose", "-recorded_at"], name="consent_latest"),
        ]
        constraints = [
            # A choice carried by an event is recorded once per purpose, however often (and
            # however concurrently) that event's consent is captured.
            models.UniqueConstraint(
                KT("evidence__event_id"),
                "purpose",
                condition=models.Q(evidence__has_key="event_id"),
                name="consent_once_per_event",
            )
        ]

    def __str__(self) -> str:
        state = "granted" if self.granted else "refused"
        return f"{self.purpose_id} {state} for profile {self.profile_id}"


class AuditEvent(models.Model):
    """A person looked at or exported personal data. Written for every such access."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept even if the user is deleted later, so the log still says who it was.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    profile_id = models.BigIntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["profile_id", "-at"], name="audit_profile"),
            models.Index(fields=["user", "-at"], name="audit_user"),
            models.Index(fields=["-at"], name="audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.profile_id or ''}".strip()


class DataSubjectRequest(models.Model):
    """A person's request about their data (GDPR Art. 15-21), from receipt to its answer.

    `identifiers` holds the values as the person gave them ({kind: [values]}); `subject` the
    normalised identifiers and profiles found when the request was run, so running it again
    finds the same person after their profiles are gone. Both are the request's own record of
    whom it was about, and the only place the values are kept after an erasure.
    """

    class Type(models.TextChoices):
        ERASURE = "erasure", "Erasure (Art. 17)"
        ACCESS = "access", "Access and portability (Art. 15, 20)"
        RECTIFICATION = "rectification", "Rectification (Art. 16)"
        RESTRICTION = "restriction", "Restriction or objection (Art. 18, 21)"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        VERIFIED = "verified", "Identity verified"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        PHONE = "phone", "Phone"
        POST = "post", "Post"
        WEB_FORM = "web_form", "Web form"
        IN_PERSON = "in_person", "In person"
        API = "api", "API"
        OTHER = "other", "Other"

    type = models.CharField(max_length=16, choices=Type.choices)
    identifiers = models.JSONField(default=dict)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    rejection_reason = models.TextField(blank=True, default="")
    received_on = models.DateField()
    # The deadline in force: one month after receipt, plus the extension's months.
    due_on = models.DateField()
    # Art. 12(3): up to two more months, the person told why within the first month.
    extension_months = models.PositiveSmallIntegerField(default=0)
    extension_reason = models.TextField(blank=True, default="")
    extension_told_on = models.DateField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Rectification: {"trait": key, "value": new value, "reason": why}.
    details = models.JSONField(default=dict, blank=True)
    subject = models.JSONField(default=dict, blank=True)
    # While running: {"done": stores done, "total": stores, "stage": label}.
    progress = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    runs = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Access: the archive link's secret part and when it stops working.
    archive_token = models.CharField(max_length=64, blank=True, default="")
    archive_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["status", "due_on"], name="dsr_status_due")]

    def __str__(self) -> str:
        return f"Request {self.pk} ({self.type}, {self.status})"

    @property
    def first_due_on(self):
        """One calendar month after receipt: the deadline before any extension."""
        from .deadlines import months_after

        return months_after(self.received_on, 1)

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.COMPLETED, self.Status.REJECTED)


class RequestStep(models.Model):
    """One thing done on a request: who, when, what, and a note (never the subject's values)."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, default="")
    note = models.TextField(blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} on request {self.request_id}"


class Suppression(models.Model):
    """A keyed hash (HMAC-SHA256) of one identifier of an erased person: later data carrying it
    is dropped. The value itself is never kept."""

    kind = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)
    request = models.ForeignKey(
        DataSubjectRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suppressions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.digest[:8]}"


class SuppressedDrop(models.Model):
    """How many messages of a source were dropped for a suppressed person, per day."""

    source_id = models.BigIntegerField()
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_id", "day"], name="suppressed_drop_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.count} dropped from source {self.source_id} on {self.day}"


class Restriction(models.Model):
    """A profile whose person restricted or objected to processing: no marketing activation."""

    profile_id = models.BigIntegerField(unique=True)
    request = models.ForeignKey(
        DataSubjectRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="restrictions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Profile {self.profile_id} restricted"


class RetentionPolicy(models.Model):
    """How long events of a source are kept (`source_id` empty: the default for every source
    without a policy of its own). Events older than that are deleted by the retention task."""

    # A plain source id, as events keep it.
    source_id = models.BigIntegerField(null=True, blank=True)
    days = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_id"],
                condition=models.Q(source_id__isnull=False),
                name="retention_per_source",
            ),
            models.CheckConstraint(condition=models.Q(days__gte=1), name="retention_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.days} days for {self.source_id or 'every source'}"


class RetentionRun(models.Model):
    """One run of the retention task: what it deleted, per source."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    deleted = models.PositiveBigIntegerField(default=0)
    # {source id or "default": events deleted}; `more`: stopped at its batch budget.
    detail = models.JSONField(default=dict, blank=True)
    more = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Retention run {self.started_at:%Y-%m-%d %H:%M}: {self.deleted} deleted"
