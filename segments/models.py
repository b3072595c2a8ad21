"""Segments: saved audience definitions, their materialised membership and its history."""

from django.conf import settings
from django.db import models


class Segment(models.Model):
    """A saved audience: a definition tree (see `segments.definition`) and its refresh state."""

    class Status(models.TextChoices):
        NEVER = "never", "Never computed"
        RUNNING = "running", "Computing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    definition = models.JSONField(default=dict)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="segments"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every membership refresh; each membership row carries the version that wrote it.
    version = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEVER)
    member_count = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """One stay of a profile in a segment: from `entered_at` until `exited_at` (open if null)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    # No database-level constraint: checking it would take a KEY SHARE lock on every profile a
    # refresh inserts, dirtying hundreds of thousands of profile pages for a large segment.
    # Rows are only written by `segment_refresh` from existing profiles, and deleting a profile
    # through the ORM still deletes its memberships.
    profile = models.ForeignKey(
        "profiles.Profile",
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        db_constraint=False,
    )
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-entered_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "profile"],
                condition=models.Q(exited_at__isnull=True),
                name="membership_one_open_stay",
            )
        ]
        indexes = [
            models.Index(fields=["profile", "-entered_at"], name="membership_profile"),
            models.Index(fields=["segment", "-exited_at"], name="membership_segment_exited"),
        ]

    def __str__(self) -> str:
        return f"Profile {self.profile_id} in segment {self.segment_id}"


class SegmentSnapshot(models.Model):
    """The size of a segment after one full refresh, for its size-over-time chart."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    size = models.PositiveIntegerField()
    entered = models.PositiveIntegerField(default=0)
    exited = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    # A digest of the definition the size was computed from: where it changes, the segment was
    # edited, and its size chart does not draw a line across the edit ("" for older snapshots).
    definition_digest = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["segment", "-taken_at"], name="snapshot_segment_time")]

    def __str__(self) -> str:
        return f"{self.segment_id} at {self.taken_at:%Y-%m-%d %H:%M}: {self.size}"


class RefreshRequest(models.Model):
    """A profile whose memberships may have changed, waiting for the real-time refresh.

    Written when events are resolved (one row per profile and event name of the batch) and after
    a merge or its undo (`ANY_EVENT`: every segment may change); read and deleted by
    `segments_refresh_pending`. However many batches are resolved while a refresh runs, the next
    one serves them all at once, so real-time refreshes never queue up behind resolution.
    """

    ANY_EVENT = "*"

    profile_id = models.BigIntegerField()
    # The event name that brought the change ("" for events without one, such as identify).
    event = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"profile {self.profile_id} ({self.event or 'no event name'})"
