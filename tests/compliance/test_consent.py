"""Consent captured from resolved events (Segment's consent context), set-based and idempotent."""

import datetime as dt

from django.utils import timezone

from compliance.consent import consent_record_from_events
from compliance.models import ConsentPurpose, ConsentRecord
from compliance.selectors import consent_state
from integrations.models import Source
from profiles.identity import events_resolve_pending
from profiles.models import Event, Identity, Profile, ProfileMerge
from profiles.services import profile_merge_undo
from profiles.signals import events_resolved
from tests.factories import EventFactory


def _event(source, profile, message_id, prefs, minutes=0):
    at = timezone.now() + dt.timedelta(minutes=minutes)
    return Event.objects.create(
        source_id=source.pk,
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
        source_id=source.pk,
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


def test_consent_follows_a_merge_and_comes_back_with_an_undo(
    db, support_agent, django_capture_on_commit_callbacks
):
    t0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    EventFactory(type="identify", anonymous_id="laptop", traits={"email": "kim@x.io"}, timestamp=t0)
    EventFactory(
        type="identify",
        anonymous_id="",
        user_id="kim-1",
        context={"consent": {"categoryPreferences": {"email_marketing": False}}},
        timestamp=t0 + dt.timedelta(minutes=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        events_resolve_pending()
    kim = Identity.objects.get(kind="user_id", value="kim-1").profile
    laptop = Identity.objects.get(kind="anonymous_id", value="laptop").profile
    choice = ConsentRecord.objects.get()
    # And one recorded by a person on the profile, with no event behind it.
    manual = ConsentRecord.objects.create(
        profile=kim,
        purpose=ConsentPurpose.objects.get(key="sms_marketing"),
        granted=True,
        recorded_at=timezone.now(),
        evidence={"by": "support"},
    )
    assert choice.profile == kim

    EventFactory(
        type="identify",
        anonymous_id="",
        user_id="kim-1",
        traits={"email": "kim@x.io"},
        timestamp=t0 + dt.timedelta(minutes=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        events_resolve_pending()
    merge = ProfileMerge.objects.get()
    assert merge.winner == laptop
    assert set(ConsentRecord.objects.values_list("profile_id", flat=True)) == {laptop.pk}
    state = {row["purpose"].key: row["current"] for row in consent_state(laptop.pk)}
    assert state["email_marketing"].granted is False

    with django_capture_on_commit_callbacks(execute=True):
        profile_merge_undo(merge=merge, user=support_agent)
    choice.refresh_from_db()
    manual.refresh_from_db()
    assert choice.profile == kim
    # A choice with no event behind it stays where the merge put it: the person can be asked.
    assert manual.profile == laptop
