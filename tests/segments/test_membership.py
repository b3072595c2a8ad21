"""Materialised membership: full and per-profile refreshes, history, idempotency, real time."""

import datetime as dt

import pytest
from django.utils import timezone

from integrations.models import Source
from profiles.models import Event, Profile
from profiles.signals import events_resolved, profile_merge_undone, profiles_merged
from segments.models import RefreshRequest, Segment, SegmentMembership, SegmentSnapshot
from segments.services import segment_refresh
from segments.tasks import segment_refresh_task
from tests.factories import EventFactory

DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}
BUYERS = {
    "match": "all",
    "conditions": [
        {"type": "event", "event": "Order Completed", "count": {"operator": "at_least", "value": 1}}
    ],
}


@pytest.fixture
def segment(marketer):
    return Segment.objects.create(name="Germany", definition=DE, owner=marketer)


def _open(segment):
    return set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "profile_id", flat=True
        )
    )


def test_full_refresh_materialises_members_and_a_snapshot(segment):
    de = Profile.objects.create(traits={"country": "DE"})
    Profile.objects.create(traits={"country": "FR"})
    result = segment_refresh(segment_id=segment.pk)
    assert (result.entered, result.exited, result.size) == (1, 0, 1)
    assert _open(segment) == {de.pk}
    segment.refresh_from_db()
    assert (segment.status, segment.member_count, segment.version) == ("ready", 1, 1)
    assert segment.refreshed_at is not None
    assert segment.refresh_duration_ms is not None
    snapshot = SegmentSnapshot.objects.get()
    assert (snapshot.size, snapshot.entered, snapshot.exited, snapshot.version) == (1, 1, 0, 1)


def test_refresh_task_run_twice_changes_nothing_the_second_time(segment):
    Profile.objects.create(traits={"country": "DE"})
    segment_refresh_task.delay(segment.pk)
    rows = list(
        SegmentMembership.objects.values_list("pk", "profile_id", "entered_at", "exited_at")
    )
    segment_refresh_task.delay(segment.pk)
    assert (
        list(SegmentMembership.objects.values_list("pk", "profile_id", "entered_at", "exited_at"))
        == rows
    )
    assert SegmentSnapshot.objects.filter(segment=segment).values_list("entered", flat=True)[0] == 0


def test_refresh_task_for_a_deleted_segment_returns_quietly(db):
    assert segment_refresh_task.delay(123456).get() is None


def test_leaving_and_coming_back_keeps_history(segment):
    profile = Profile.objects.create(traits={"country": "DE"})
    segment_refresh(segment_id=segment.pk)
    profile.traits = {"country": "FR"}
    profile.save()
    segment_refresh(segment_id=segment.pk)
    profile.traits = {"country": "de"}
    profile.save()
    segment_refresh(segment_id=segment.pk)
    stays = list(
        SegmentMembership.objects.filter(profile=profile)
        .order_by("entered_at")
        .values_list("exited_at", flat=True)
    )
    assert len(stays) == 2
    assert stays[0] is not None
    assert stays[1] is None


def test_restricted_refresh_touches_only_given_profiles(segment):
    a = Profile.objects.create(traits={"country": "DE"})
    b = Profile.objects.create(traits={"country": "DE"})
    segment_refresh(segment_id=segment.pk, profile_ids=[a.pk])
    assert _open(segment) == {a.pk}
    assert SegmentSnapshot.objects.count() == 0
    b.traits = {}
    b.save()
    segment_refresh(segment_id=segment.pk)
    assert _open(segment) == {a.pk}


def test_merged_away_profile_leaves(segment):
    winner = Profile.objects.create(traits={"country": "DE"})
    loser = Profile.objects.create(traits={"country": "DE"})
    segment_refresh(segment_id=segment.pk)
    loser.merged_into = winner
    loser.save()
    segment_refresh(segment_id=segment.pk, profile_ids=[winner.pk, loser.pk])
    assert _open(segment) == {winner.pk}


@pytest.mark.django_db(transaction=True)
def test_real_time_membership_after_events_resolved(marketer):
    """One event resolved -> the segment counting it updates within one task run."""
    buyers = Segment.objects.create(name="Buyers", definition=BUYERS, owner=marketer)
    germany = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    viewers = Segment.objects.create(
        name="Viewers",
        definition={"match": "all", "conditions": [{"type": "event", "event": "Product Viewed"}]},
        owner=marketer,
    )
    source = Source.objects.create(name="web")
    profile = Profile.objects.create(traits={"country": "DE"})
    now = timezone.now()
    event = Event.objects.create(
        source_id=source.pk,
        message_id="m1",
        type="track",
        event="Order Completed",
        timestamp=now,
        received_at=now,
        profile=profile,
    )
    events_resolved.send(sender=None, profile_ids=[profile.pk], event_ids=[event.pk])
    assert _open(buyers) == {profile.pk}
    # Trait conditions are re-evaluated on any change of the profile...
    assert _open(germany) == {profile.pk}
    # ...while event conditions on other events are left alone.
    assert SegmentMembership.objects.filter(segment=viewers).count() == 0
    assert Segment.objects.get(pk=viewers.pk).version == 0


@pytest.mark.django_db(transaction=True)
def test_merge_and_undo_update_membership(marketer):
    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    winner = Profile.objects.create(traits={"country": "DE"})
    loser = Profile.objects.create(traits={"country": "DE"})
    segment_refresh(segment_id=segment.pk)
    Profile.objects.filter(pk=loser.pk).update(merged_into=winner)
    profiles_merged.send(sender=None, merges=[(winner.pk, loser.pk)])
    assert _open(segment) == {winner.pk}
    Profile.objects.filter(pk=loser.pk).update(merged_into=None)
    profile_merge_undone.send(sender=None, winner_id=winner.pk, loser_id=loser.pk)
    assert _open(segment) == {winner.pk, loser.pk}


def test_events_resolved_queues_one_task_on_commit(marketer, django_capture_on_commit_callbacks):
    Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    profile = Profile.objects.create(traits={"country": "DE"})
    events = EventFactory.create_batch(2, type="identify", event="", profile=profile)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        events_resolved.send(
            sender=None, profile_ids=[profile.pk, profile.pk], event_ids=[e.pk for e in events]
        )
    # One from segments (the profiles app queues its computed traits' refresh beside it).
    callbacks = [c for c in callbacks if c.__module__ == "segments.receivers"]
    assert len(callbacks) == 1
    # One request for the profile and the events' name, waiting for the refresh.
    assert list(RefreshRequest.objects.values_list("profile_id", "event")) == [(profile.pk, "")]
    assert SegmentMembership.objects.count() == 0
    callbacks[0]()
    assert SegmentMembership.objects.filter(profile=profile, exited_at__isnull=True).count() == 1
    assert not RefreshRequest.objects.exists()


def test_batches_resolved_while_a_refresh_waits_are_served_by_it(
    marketer, django_capture_on_commit_callbacks
):
    from segments.services import segments_refresh_pending

    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    profiles = [Profile.objects.create(traits={"country": "DE"}) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=False):
        for profile in profiles:
            event = EventFactory(type="identify", event="", profile=profile)
            events_resolved.send(sender=None, profile_ids=[profile.pk], event_ids=[event.pk])
    assert RefreshRequest.objects.count() == 3
    assert segments_refresh_pending(limit=2) == (2, True)
    assert segments_refresh_pending(limit=2) == (1, False)
    assert segments_refresh_pending() == (0, False)
    assert _open(segment) == {p.pk for p in profiles}


def test_a_refresh_request_recorded_during_a_refresh_waits_for_the_next(marketer, monkeypatch):
    from segments import services

    Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    first = Profile.objects.create(traits={"country": "DE"})
    services.refresh_requests_for_profiles(profile_ids=[first.pk])
    later = Profile.objects.create(traits={"country": "DE"})
    real = services.segments_refresh_for_profiles

    def refresh_while_another_arrives(**kwargs):
        services.refresh_requests_for_profiles(profile_ids=[later.pk])
        return real(**kwargs)

    monkeypatch.setattr(services, "segments_refresh_for_profiles", refresh_while_another_arrives)
    assert services.segments_refresh_pending() == (1, False)
    assert list(RefreshRequest.objects.values_list("profile_id", flat=True)) == [later.pk]


def test_a_refresh_over_its_budget_stops_and_says_so(marketer, monkeypatch, settings):
    from celery.exceptions import SoftTimeLimitExceeded

    from segments import services

    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)

    def too_long(**_kwargs):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(services, "segment_refresh_or_mark_failed", too_long)
    assert segment_refresh_task.run(segment.pk) is None
    segment.refresh_from_db()
    assert segment.status == Segment.Status.FAILED
    assert "longer than its budget of 600 seconds" in segment.last_error


def test_expiring_window_is_caught_by_scheduled_refresh(marketer):
    source = Source.objects.create(name="web")
    recent = {
        "match": "all",
        "conditions": [{"type": "event", "event": "Order Completed", "window": {"last_days": 30}}],
    }
    segment = Segment.objects.create(name="Recent buyers", definition=recent, owner=marketer)
    profile = Profile.objects.create(traits={})
    then = timezone.now() - dt.timedelta(days=29)
    Event.objects.create(
        source_id=source.pk,
        message_id="m",
        type="track",
        event="Order Completed",
        timestamp=then,
        received_at=then,
        profile=profile,
    )
    segment_refresh(segment_id=segment.pk)
    assert _open(segment) == {profile.pk}
    segment_refresh(segment_id=segment.pk, now=timezone.now() + dt.timedelta(days=2))
    assert _open(segment) == set()


def test_scheduled_refresh_all_task_run_twice(marketer):
    from segments.tasks import segments_refresh_all_task

    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    Profile.objects.create(traits={"country": "DE"})
    assert segments_refresh_all_task.delay().get() == 1
    assert segments_refresh_all_task.delay().get() == 1
    assert _open(segment) == set(Profile.objects.values_list("pk", flat=True))
    assert SegmentSnapshot.objects.filter(segment=segment).count() == 2


def test_deleting_a_profile_deletes_its_memberships(segment):
    profile = Profile.objects.create(traits={"country": "DE"})
    segment_refresh(segment_id=segment.pk)
    assert SegmentMembership.objects.filter(profile_id=profile.pk).count() == 1
    profile.delete()
    assert SegmentMembership.objects.filter(profile_id=profile.pk).count() == 0


def test_merges_of_one_batch_queue_one_task(marketer, django_capture_on_commit_callbacks):
    Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    profiles = [Profile.objects.create(traits={"country": "DE"}) for _ in range(6)]
    pairs = [(profiles[i].pk, profiles[i + 1].pk) for i in range(0, 6, 2)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        profiles_merged.send(sender=None, merges=pairs)
    # One from segments for the whole batch (and one from profiles, for their computed traits).
    assert [c.__module__ for c in callbacks].count("segments.receivers") == 1
    assert len(callbacks) == 2


def test_the_real_time_refresh_task_run_twice(marketer):
    from segments.services import refresh_requests_for_profiles
    from segments.tasks import segments_refresh_pending_task

    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    profile = Profile.objects.create(traits={"country": "DE"})
    refresh_requests_for_profiles(profile_ids=[profile.pk])
    assert segments_refresh_pending_task.run() == 1
    assert segments_refresh_pending_task.run() == 0
    assert _open(segment) == {profile.pk}
