"""A scene for data subject request tests: Jane (the subject, known by two profiles that were
merged, an e-mail, a phone, a user id and an anonymous id) and Mary (someone else, whose e-mail
contains Jane's, and who mentions Jane's e-mail in an event of her own)."""

import datetime as dt

from django.utils import timezone

from cdp_site.audit import AuditAction, audit_record
from integrations.models import Source
from integrations.tracking.ingest import tracking_messages_ingest
from profiles.identity import events_resolve_pending
from profiles.models import DataField, Profile, ProfileMerge
from segments.models import Segment, SegmentMembership

JANE_EMAIL = "Jane.Doe@Example.com"
JANE_PHONE = "+1 415-555-0123"
JANE_USER = "jane-user-4711"
JANE_ANON = "anon-jane-9f3e2a"
JANE_NORMALISED = ("jane.doe@example.com", "+14155550123")
JANE_VALUES = (JANE_EMAIL.lower(), "+14155550123", JANE_USER, JANE_ANON, "4155550123")
MARY_EMAIL = "mary.jane.doe@example.com"
MARY_USER = "mary-user-0815"


def _at(days: int) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


def scene_build(user=None) -> dict:
    source = Source.objects.create(name="Web")
    consent = {"categoryPreferences": {"email_marketing": True}}
    messages = [
        # Jane, first only by her anonymous id and phone...
        {
            "type": "identify",
            "anonymousId": JANE_ANON,
            "traits": {"phone": JANE_PHONE},
            "timestamp": _at(5),
        },
        {
            "type": "track",
            "anonymousId": JANE_ANON,
            "event": "Product Viewed",
            "properties": {"sku": "A-1"},
            "timestamp": _at(5),
        },
        # ...then by her user id and e-mail, with her consent.
        {
            "type": "identify",
            "userId": JANE_USER,
            "traits": {"email": JANE_EMAIL, "name": "Jane"},
            "context": {"consent": consent},
            "timestamp": _at(4),
        },
        {
            "type": "track",
            "userId": JANE_USER,
            "event": "Order Completed",
            "properties": {"total": 42, "receipt_to": JANE_EMAIL},
            "timestamp": _at(3),
        },
        # Mary: her own profile; one of her events names Jane only in its properties.
        {
            "type": "identify",
            "userId": MARY_USER,
            "traits": {"email": MARY_EMAIL, "name": "Mary"},
            "timestamp": _at(4),
        },
        {
            "type": "track",
            "userId": MARY_USER,
            "event": "Friend Referred",
            "properties": {"friend": JANE_EMAIL.lower()},
            "timestamp": _at(3),
        },
        {
            "type": "track",
            "userId": MARY_USER,
            "event": "Order Completed",
            "properties": {"total": 10},
            "timestamp": _at(2),
        },
    ]
    tracking_messages_ingest(source=source, messages=messages)
    events_resolve_pending()
    # The anonymous and the known Jane merge when one event carries both.
    tracking_messages_ingest(
        source=source,
        messages=[
            {"type": "identify", "userId": JANE_USER, "anonymousId": JANE_ANON, "timestamp": _at(1)}
        ],
    )
    events_resolve_pending()
    # A message of Jane's that failed validation waits in the quarantine.
    tracking_messages_ingest(
        source=source,
        messages=[{"type": "track", "userId": JANE_USER, "traits": {"email": JANE_EMAIL}}],
    )
    merge = ProfileMerge.objects.get()
    jane = Profile.objects.get(pk=merge.winner_id)
    mary = Profile.objects.exclude(pk__in=[merge.winner_id, merge.loser_id]).get()
    segment = Segment.objects.create(name="Buyers", definition={})
    SegmentMembership.objects.create(segment=segment, profile=jane, entered_at=timezone.now())
    SegmentMembership.objects.create(segment=segment, profile=mary, entered_at=timezone.now())
    DataField.objects.update_or_create(
        kind="trait",
        event="",
        path="email",
        defaults={
            "common_values": [[JANE_EMAIL.lower(), 3], [MARY_EMAIL, 3]],
            "first_seen_at": timezone.now(),
            "refreshed_at": timezone.now(),
        },
    )
    if user is not None:
        # A support agent searched for Jane by e-mail: the audit log keeps the search.
        audit_record(user=user, action=AuditAction.PROFILE_SEARCH, detail={"query": JANE_EMAIL})
    return {"source": source, "jane": jane, "mary": mary, "merge": merge, "segment": segment}
