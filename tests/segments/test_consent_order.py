"""A membership refresh that a profiles signal queues reads consent as compliance left it.

Transactions commit for real here, so `on_commit` work runs as in production: at once when sent
outside a transaction. Compliance's receivers are made to run after the segments receiver, the
order in which only the signals' own transaction keeps the refresh from reading stale consent.
"""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from compliance import consent
from compliance.models import ConsentPurpose, ConsentRecord
from profiles.identity import events_resolve_pending
from profiles.models import IdentityRule, Profile
from profiles.services import profile_merge_undo
from profiles.signals import (
    events_resolved,
    profile_merge_undone,
    profiles_merged,
    profiles_rebuilt,
)
from segments.models import Segment, SegmentMembership
from segments.services import segment_refresh
from tests.factories import EventFactory, merged_pair

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
GRANTED = {"consent": {"categoryPreferences": {"email_marketing": True}}}


@pytest.fixture(autouse=True)
def _compliance_answers_last():
    """Compliance's consent receivers run after every other receiver of the same signal."""
    wiring = [
        (events_resolved, consent.on_events_resolved, "compliance.consent"),
        (profiles_merged, consent.on_profiles_merged, "compliance.merged"),
        (profile_merge_undone, consent.on_profile_merge_undone, "compliance.merge_undone"),
        (profiles_rebuilt, consent.on_profiles_rebuilt, "compliance.rebuilt"),
    ]
    for signal, receiver, uid in wiring:
        assert signal.disconnect(dispatch_uid=uid)
        signal.connect(receiver, dispatch_uid=uid)


@pytest.fixture
def mailable(marketer):
    """A saved segment of the profiles that agreed to e-mail marketing, refreshed."""
    segment = Segment.objects.create(
        name="Mailable",
        definition={
            "match": "all",
            "conditions": [{"type": "consent", "purpose": "email_marketing"}],
        },
        owner=marketer,
    )
    segment_refresh(segment_id=segment.pk)
    return segment


def _members(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "profile_id", flat=True
        )
    )


def _grant(profile) -> ConsentRecord:
    """A choice a person recorded on the profile, with no event behind it."""
    return ConsentRecord.objects.create(
        profile=profile,
        purpose=ConsentPurpose.objects.get_or_create(key="email_marketing")[0],
        granted=True,
        recorded_at=T0,
        evidence={"by": "support"},
    )


def test_resolution_refresh_sees_the_consent_its_events_carried(mailable):
    EventFactory(type="identify", anonymous_id="", user_id="kim-1", context=GRANTED, timestamp=T0)

    events_resolve_pending()

    kim = Profile.objects.get()
    assert ConsentRecord.objects.get().profile_id == kim.pk
    assert _members(mailable) == {kim.pk}


def test_merge_refresh_sees_the_consent_moved_to_the_winner(mailable):
    winner = Profile.objects.create(traits={})
    loser = Profile.objects.create(traits={})
    _grant(loser)
    segment_refresh(segment_id=mailable.pk)
    assert _members(mailable) == {loser.pk}
    Profile.objects.filter(pk=loser.pk).update(merged_into=winner)

    profiles_merged.send(sender=Profile, merges=[(winner.pk, loser.pk)])

    assert ConsentRecord.objects.get().profile_id == winner.pk
    assert _members(mailable) == {winner.pk}


def test_undo_refresh_sees_the_consent_gone_back_with_its_event(mailable, support_agent):
    # The second person's user id arrives with a grant, then an event merges them into the first.
    merge = merged_pair(T0)
    EventFactory(type="identify", anonymous_id="", user_id="u", context=GRANTED, timestamp=T0)
    events_resolve_pending()
    assert ConsentRecord.objects.get().profile_id == merge.winner_id
    segment_refresh(segment_id=mailable.pk)
    assert _members(mailable) == {merge.winner_id}

    profile_merge_undo(merge=merge, user=support_agent)

    assert ConsentRecord.objects.get().profile_id == merge.loser_id
    assert _members(mailable) == {merge.loser_id}


def test_rebuild_refresh_sees_the_consent_moved_with_its_event(mailable):
    EventFactory(type="identify", anonymous_id="tablet", user_id="u-1", timestamp=T0)
    carried = EventFactory(
        type="identify",
        anonymous_id="tablet",
        traits={"email": "x@y.io"},
        context=GRANTED,
        timestamp=T0 + dt.timedelta(minutes=1),
    )
    events_resolve_pending()
    old = Profile.objects.get()
    segment_refresh(segment_id=mailable.pk)
    assert _members(mailable) == {old.pk}
    # The new rules tell the tablet's two people apart: the choice goes with its event.
    IdentityRule.objects.create(kind="anonymous_id", blocked_values=["tablet"])

    call_command("rebuild", yes=True, stdout=io.StringIO())

    carried.refresh_from_db()
    assert carried.profile_id != old.pk
    assert ConsentRecord.objects.get().profile_id == carried.profile_id
    assert _members(mailable) == {carried.profile_id}
