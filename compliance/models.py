"""Consent (purposes and each profile's history of choices) and the audit log."""

from django.conf import settings
from django.db import models
from django.db.models.fields.json import KT


class ConsentPurpose(models.Model):
    """Something a person can agree to, e.g. `email_marketing` or `advertising`."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

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
