"""Undoing a merge gives both people back exactly as they were."""

import datetime as dt
import io
from importlib import import_module

import pytest
from django.apps import apps
from django.core.management import call_command

from cdp_site.errors import ConflictError
from compliance.models import AuditEvent
from profiles.identity import events_resolve_pending
from profiles.models import Event, Identity, IdentitySplit, Profile, ProfileMerge
from profiles.services import MergeAlreadyUndoneError, profile_merge_undo
from profiles.signals import profile_merge_undone
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)


def ev(minutes: int, **kwargs) -> Event:
    kwargs.setdefault("anonymous_id", "")
    return EventFactory(timestamp=T0 + dt.timedelta(minutes=minutes), **kwargs)


def snapshot(profile: Profile) -> dict:
    profile.refresh_from_db()
    return {
        "traits": profile.traits,
        "trait_meta": profile.trait_meta,
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "merged_into": profile.merged_into_id,
        "identities": set(profile.identities.values_list("id", "kind", "value")),
        "events": set(profile.events.values_list("id", flat=True)),
    }


@pytest.fixture
def two_people():
    ev(0, type="identify", anonymous_id="laptop", traits={"email": "kim@x.io", "plan": "free"})
    ev(1, type="page", anonymous_id="laptop")
    ev(2, type="identify", user_id="kim-1", traits={"name": "Kim", "plan": "pro"})
    ev(3, type="track", event="Order Completed", user_id="kim-1")
    events_resolve_pending()
    first = Identity.objects.get(kind="anonymous_id", value="laptop").profile
    second = Identity.objects.get(kind="user_id", value="kim-1").profile
    return first, second


def test_merge_then_undo_restores_both_exactly(two_people, support_agent):
    first, second = two_people
    before = (snapshot(first), snapshot(second))
    trigger = ev(4, type="identify", user_id="kim-1", traits={"email": "KIM@x.io"})
    events_resolve_pending()
    merge = ProfileMerge.objects.get()
    assert (merge.winner, merge.loser) == (first, second)
    assert snapshot(second)["merged_into"] == first.pk

    profile_merge_undo(merge=merge, user=support_agent)

    after_first, after_second = snapshot(first), snapshot(second)
    assert after_second == before[1]
    # The winner keeps what it had plus the event that caused the merge (it carried its e-mail).
    assert after_first["identities"] == before[0]["identities"]
    assert after_first["events"] == before[0]["events"] | {trigger.id}
    assert after_first["traits"] == {"email": "KIM@x.io", "plan": "free"}
    merge.refresh_from_db()
    assert merge.undone
    assert merge.undone_by == support_agent


def test_undo_twice_is_refused_and_changes_nothing(two_people, support_agent):
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    merge = ProfileMerge.objects.get()
    profile_merge_undo(merge=merge, user=support_agent)
    first, second = two_people
    before = (snapshot(first), snapshot(second))
    with pytest.raises(MergeAlreadyUndoneError) as refused:
        profile_merge_undo(merge=merge, user=support_agent)
    assert (snapshot(first), snapshot(second)) == before
    assert isinstance(refused.value, ConflictError)
    assert (refused.value.code, refused.value.status) == ("merge_already_undone", 409)
    assert refused.value.message == "This merge has already been undone."


def test_undo_sends_signal_after_commit(
    two_people, support_agent, django_capture_on_commit_callbacks
):
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    merge = ProfileMerge.objects.get()
    received = []

    def listener(sender, winner_id, loser_id, **kwargs):
        received.append((winner_id, loser_id))

    profile_merge_undone.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            profile_merge_undo(merge=merge, user=support_agent)
    finally:
        profile_merge_undone.disconnect(listener)
    assert received == [(merge.winner_id, merge.loser_id)]


def test_undo_page_for_support_agent(two_people, support_agent, marketer, client_for):
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    merge = ProfileMerge.objects.get()
    url = f"/customers/merges/{merge.pk}/undo/"
    assert client_for(marketer).post(url).status_code == 403
    merge.refresh_from_db()
    assert not merge.undone
    # Asking first changes nothing: the page says what will happen and asks to confirm.
    confirm = client_for(support_agent).get(url)
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "Undo this merge?" in body
    assert f"bring profile #{merge.loser_id} back as a separate customer" in body
    assert "kim-1" in body  # the identifier the loser brought, shown to a support agent
    assert "Yes, undo the merge" in body
    assert "onclick" not in body
    assert "confirm(" not in body
    merge.refresh_from_db()
    assert not merge.undone
    shown = AuditEvent.objects.filter(action="profile.view", detail__page="merge undo")
    assert sorted(shown.values_list("profile_id", flat=True)) == sorted(
        [merge.winner_id, merge.loser_id]
    )
    response = client_for(support_agent).post(url)
    assert response.status_code == 302
    merge.refresh_from_db()
    assert merge.undone
    again = client_for(support_agent).get(url).content.decode()
    assert "already undone" in again
    assert "Yes, undo the merge" not in again


def test_profiles_split_by_a_person_are_not_merged_again(two_people, support_agent):
    first, second = two_people
    ev(4, type="identify", user_id="kim-1", traits={"email": "KIM@x.io"})
    events_resolve_pending()
    profile_merge_undo(merge=ProfileMerge.objects.get(), user=support_agent)

    # The same evidence again: user id (priority 1) and e-mail (priority 2) of the two profiles.
    again = ev(5, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()

    assert ProfileMerge.objects.count() == 1
    assert (
        Profile.objects.filter(merged_into__isnull=True, pk__in=[first.pk, second.pk]).count() == 2
    )
    # The lower-priority e-mail was dropped from the event: it went to the user id's profile.
    again.refresh_from_db()
    assert again.profile_id == second.pk


def test_a_split_pair_does_not_stop_other_merges(two_people, support_agent):
    first, _second = two_people
    ev(4, type="identify", user_id="kim-1", traits={"email": "KIM@x.io"})
    events_resolve_pending()
    profile_merge_undo(merge=ProfileMerge.objects.get(), user=support_agent)
    ev(5, type="page", anonymous_id="phone")
    events_resolve_pending()
    third = Identity.objects.get(kind="anonymous_id", value="phone").profile

    ev(6, type="identify", anonymous_id="phone", traits={"email": "kim@x.io"})
    events_resolve_pending()

    latest = ProfileMerge.objects.order_by("-pk").first()
    assert ProfileMerge.objects.count() == 2
    assert {latest.winner_id, latest.loser_id} == {first.pk, third.pk}


def people() -> set[frozenset]:
    """Each live profile as the set of its identifiers: comparable across rebuilds."""
    return {
        frozenset(p.identities.values_list("kind", "value"))
        for p in Profile.objects.filter(merged_into__isnull=True)
    }


def test_undo_records_the_split_by_identifier(two_people, support_agent):
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    merge = ProfileMerge.objects.get()
    profile_merge_undo(merge=merge, user=support_agent)
    split = IdentitySplit.objects.get()
    assert (split.merge, split.made_by) == (merge, support_agent)
    assert set(split.members.values_list("side", "kind", "value")) == {
        (0, "anonymous_id", "laptop"),
        (0, "email", "kim@x.io"),
        (1, "user_id", "kim-1"),
    }


def test_a_rebuild_keeps_people_a_person_split(two_people, support_agent):
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    profile_merge_undo(merge=ProfileMerge.objects.get(), user=support_agent)
    before = people()
    assert len(before) == 2

    call_command("rebuild", yes=True, stdout=io.StringIO())

    assert people() == before
    # And the events that would join them again still do not, after the rebuild too.
    ev(5, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    assert people() == before


def test_a_split_holds_after_one_side_merged_into_someone_else(two_people, support_agent):
    first, second = two_people
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    profile_merge_undo(merge=ProfileMerge.objects.get(), user=support_agent)
    # Kim's tablet, seen before anything else, then Kim signs in on it: Kim's profile is merged
    # into the tablet's (the older one), so the profile the split was made with is gone.
    ev(-10, type="page", anonymous_id="tablet")
    events_resolve_pending()
    ev(6, type="identify", anonymous_id="tablet", user_id="kim-1")
    events_resolve_pending()
    kim = Identity.objects.get(kind="user_id", value="kim-1").profile
    assert Profile.objects.get(pk=second.pk).merged_into == kim != second

    # The laptop's e-mail on the tablet: the tablet is Kim's, the e-mail the other person's.
    ev(7, type="identify", anonymous_id="tablet", traits={"email": "kim@x.io"})
    events_resolve_pending()
    assert Identity.objects.get(kind="email", value="kim@x.io").profile == first
    assert Profile.objects.filter(pk__in=[first.pk, kim.pk], merged_into=None).count() == 2


def test_undone_merges_from_before_splits_existed_become_splits(two_people, support_agent):
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    profile_merge_undo(merge=ProfileMerge.objects.get(), user=support_agent)
    IdentitySplit.objects.all().delete()

    migration = import_module("profiles.migrations.0007_identity_splits")
    migration.splits_from_undone_merges(apps, None)

    split = IdentitySplit.objects.get()
    assert split.made_by == support_agent
    assert set(split.members.values_list("side", "kind", "value")) == {
        (0, "anonymous_id", "laptop"),
        (0, "email", "kim@x.io"),
        (1, "user_id", "kim-1"),
    }


def test_undo_gives_back_what_the_loser_did_while_merged(two_people, support_agent):
    first, second = two_people
    trigger = ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    merge = ProfileMerge.objects.get()
    # While merged, Kim (the loser's user id) carries on, and installs the app.
    later = [
        ev(5, type="track", event="Order Completed", user_id="kim-1"),
        ev(6, type="identify", user_id="kim-1", traits={"name": "Kimberly"}),
        ev(7, type="identify", user_id="kim-1", anonymous_id="phone-app"),
        ev(8, type="screen", name="Home", anonymous_id="phone-app"),
    ]
    # And the laptop's person goes on browsing: that stays with them.
    laptop = ev(9, type="page", anonymous_id="laptop")
    events_resolve_pending()

    profile_merge_undo(merge=merge, user=support_agent)

    after_first, after_second = snapshot(first), snapshot(second)
    assert {e.id for e in later} <= after_second["events"]
    assert {laptop.id, trigger.id} <= after_first["events"]
    assert not {e.id for e in later} & after_first["events"]
    assert Identity.objects.get(kind="anonymous_id", value="phone-app").profile == second
    assert after_second["traits"]["name"] == "Kimberly"
    assert "name" not in after_first["traits"]
    # The app's next event goes to Kim, not to the laptop's person.
    app = ev(10, type="screen", name="Cart", anonymous_id="phone-app")
    events_resolve_pending()
    app.refresh_from_db()
    assert app.profile_id == second.pk
