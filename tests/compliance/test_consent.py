"""Consent captured from resolved events (Segment's consent context), set-based and idempotent."""

import datetime as dt

from django.utils import timezone

from compliance.consent import consent_record_from_events, consent_state
from compliance.models import ConsentPurpose, ConsentRecord
from integrations.models import Source
from profiles.models import Event, Profile
from profiles.signals import events_resolved


def _event(source, profile, message_id, prefs, minutes=0):
    at = timezone.now() + dt.timedelta(minutes=minutes)
    return Event.objects.create(
        source=source,
        message_id=message_id,
        type="track",
        event="Consent Updated",
        context={"consent": {"categoryPreferences": prefs}},
        timestamp=at,
        received_at=at,
        profile=profile,
    )


def test_seeded_purposes_exist(db):
    assert set(ConsentPurpose.objects.values_list("key", flat=True)) >= {
        "email_marketing",
        "sms_marketing",
        "advertising",
        "analytics",
    }


def test_events_resolved_records_choices_once_and_creates_unknown_purposes(db):
    source = Source.objects.create(name="web")
    profile = Profile.objects.create(traits={})
    first = _event(
        source, profile, "m1", {"email_marketing": True, "advertising": False, "push_alerts": True}
    )
    second = _event(
        source,
        profile,
        "m2",
        {"email_marketing": False, "bad key!": True, "sms_marketing": "yes"},
        minutes=5,
    )
    plain = Event.objects.create(
        source=source,
        message_id="m3",
        type="track",
        event="Page",
        timestamp=timezone.now(),
        received_at=timezone.now(),
        profile=profile,
    )
    ids = [first.pk, second.pk, plain.pk]
    events_resolved.send(sender=None, profile_ids=[profile.pk], event_ids=ids)
    events_resolved.send(sender=None, profile_ids=[profile.pk], event_ids=ids)
    rows = set(ConsentRecord.objects.values_list("purpose__key", "granted", "evidence__message_id"))
    assert rows == {
        ("email_marketing", True, "m1"),
        ("advertising", False, "m1"),
        ("push_alerts", True, "m1"),
        ("email_marketing", False, "m2"),
    }
    assert ConsentPurpose.objects.get(key="push_alerts").name == "Push alerts"
    state = {row["purpose"].key: row for row in consent_state(profile.pk)}
    assert state["email_marketing"]["current"].granted is False
    assert len(state["email_marketing"]["history"]) == 2
    assert state["sms_marketing"]["current"] is None


def test_unresolved_events_are_skipped(db):
    source = Source.objects.create(name="web")
    event = _event(source, None, "m1", {"email_marketing": True})
    assert consent_record_from_events(event_ids=[event.pk]) == 0
    assert ConsentRecord.objects.count() == 0


def test_database_refuses_a_second_record_of_the_same_event_choice(db):
    import pytest
    from django.db import IntegrityError, transaction

    profile = Profile.objects.create(traits={})
    purpose = ConsentPurpose.objects.get(key="email_marketing")
    fields = {
        "profile": profile,
        "purpose": purpose,
        "granted": True,
        "recorded_at": timezone.now(),
    }
    ConsentRecord.objects.create(**fields, evidence={"event_id": 7})
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecord.objects.create(**fields, evidence={"event_id": 7})
    ConsentRecord.objects.create(**fields, evidence={"import": "crm"})
    ConsentRecord.objects.create(**fields, evidence={"import": "crm"})
    assert ConsentRecord.objects.count() == 3
