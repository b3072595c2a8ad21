"""A merge of a long history links the merged-away profile to the live one; its events stay
where they were stored until `links_consolidate` moves them."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from profiles import selectors
from profiles.identity import events_resolve_pending, store
from profiles.links import links_consolidate
from profiles.models import Event, Identity, Profile, ProfileLink, ProfileMerge
from profiles.selectors import TimelineFilter, profile_events, profile_timeline
from profiles.services import profile_merge_undo
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def every_history_is_long(monkeypatch):
    """Every merged-away profile is linked, as one with more than `MOVE_IN_BATCH` events is."""
    monkeypatch.setattr(store, "MOVE_IN_BATCH", 0)


T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def ev(minutes: int, **kwargs) -> Event:
    kwargs.setdefault("anonymous_id", "")
    return EventFactory(timestamp=T0 + dt.timedelta(minutes=minutes), **kwargs)


def owner(kind: str, value: str) -> Profile:
    return Identity.objects.get(kind=kind, value=value).profile


def whole_timeline(profile: Profile, page: int) -> list[int]:
    """Every event id of the profile's timeline, page after page."""
    ids: list[int] = []
    cursor = None
    while True:
        events, cursor = profile_timeline(
            profile=profile, filters=TimelineFilter(before=cursor), limit=page
        )
        ids.extend(e.pk for e in events)
        if cursor is None:
            return ids


def newest_first(events) -> list[int]:
    return [e.pk for e in sorted(events, key=lambda e: (e.timestamp, e.pk), reverse=True)]


def links() -> dict[int, int]:
    return dict(ProfileLink.objects.values_list("profile_id", "live_id"))


def test_a_merge_writes_no_stored_event_and_reads_both_histories():
    visits = [ev(m, type="page", anonymous_id="laptop") for m in (0, 2, 4, 6)]
    orders = [ev(m, user_id="kim-1") for m in (1, 3, 5)]
    events_resolve_pending()
    visitor, customer = owner("anonymous_id", "laptop"), owner("user_id", "kim-1")
    stored = dict(Event.objects.values_list("pk", "profile_id"))

    trigger = ev(7, type="identify", anonymous_id="laptop", user_id="kim-1")
    events_resolve_pending()

    assert ProfileMerge.objects.get().loser == customer
    # Every stored event kept its profile; the merging event went to the survivor.
    assert dict(Event.objects.exclude(pk=trigger.pk).values_list("pk", "profile_id")) == stored
    assert Event.objects.get(pk=trigger.pk).profile_id == visitor.pk
    assert links() == {customer.pk: visitor.pk}
    assert ProfileMerge.objects.get().moved_event_ids == []
    everything = [*visits, *orders, trigger]
    assert sorted(profile_events(profile=visitor).values_list("pk", flat=True)) == sorted(
        e.pk for e in everything
    )
    for page in (1, 2, 3, 50):
        assert whole_timeline(visitor, page) == newest_first(everything)
    assert selectors.profile_event_count(profile=visitor) == 8
    weekly = selectors.profile_activity_weekly(profile=visitor)
    assert sum(row["count"] for row in weekly) == 8


def test_a_timeline_of_many_merged_profiles_reads_them_all_in_order(monkeypatch):
    for n in range(4):
        ev(n, type="page", anonymous_id=f"device-{n}")
        ev(10 + n, type="page", anonymous_id=f"device-{n}")
    events_resolve_pending()
    ev(20, type="identify", user_id="kim-1", anonymous_id="device-0")
    for n in range(1, 4):
        ev(20 + n, type="identify", user_id="kim-1", anonymous_id=f"device-{n}")
    events_resolve_pending()
    kim = owner("user_id", "kim-1")
    assert len(links()) == 3
    expected = newest_first(Event.objects.all())
    assert whole_timeline(kim, 3) == expected
    # Past the number of profiles read one by one, one sorted read gives the same pages.
    monkeypatch.setattr(selectors, "TIMELINE_MERGED_READS", 2)
    assert whole_timeline(kim, 3) == expected


def test_a_chain_of_merges_links_to_its_end_and_an_undo_splits_the_chain():
    ev(0, type="page", anonymous_id="laptop")
    ev(1, type="page", user_id="kim-1")
    ev(2, type="identify", traits={"email": "kim@x.io"})
    events_resolve_pending()
    laptop, account, mail = (
        owner("anonymous_id", "laptop"),
        owner("user_id", "kim-1"),
        owner("email", "kim@x.io"),
    )
    # The e-mail's profile joins the account's, which then joins the laptop's.
    first = ev(3, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    second = ev(4, type="identify", anonymous_id="laptop", user_id="kim-1")
    events_resolve_pending()
    assert links() == {mail.pk: laptop.pk, account.pk: laptop.pk}
    assert profile_events(profile=laptop).count() == 5

    merge = ProfileMerge.objects.get(winner=laptop, loser=account)
    profile_merge_undo(merge=merge, user=None)

    # The account comes back with the e-mail's profile still merged into it.
    assert links() == {mail.pk: account.pk}
    assert set(profile_events(profile=account).values_list("pk", flat=True)) == set(
        Event.objects.filter(profile__in=[account, mail]).values_list("pk", flat=True)
    )
    assert first.pk in set(profile_events(profile=account).values_list("pk", flat=True))
    assert set(profile_events(profile=laptop).values_list("pk", flat=True)) == set(
        Event.objects.filter(profile=laptop).values_list("pk", flat=True)
    )
    assert second.pk in set(profile_events(profile=laptop).values_list("pk", flat=True))


def test_rebuild_leaves_every_event_with_its_live_profile_and_no_link():
    ev(0, type="page", anonymous_id="laptop")
    ev(1, type="page", user_id="kim-1")
    ev(2, type="identify", traits={"email": "kim@x.io"})
    ev(3, type="page", anonymous_id="phone")
    events_resolve_pending()
    ev(4, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    ev(5, type="identify", anonymous_id="laptop", user_id="kim-1")
    ev(6, type="identify", anonymous_id="phone", user_id="kim-1")
    events_resolve_pending()
    assert links()
    call_command("rebuild", yes=True, batch_size=2, stdout=io.StringIO())

    assert links() == {}
    live = Profile.objects.filter(merged_into__isnull=True).get()
    assert set(Event.objects.values_list("profile_id", flat=True)) == {live.pk}


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


def test_consolidation_moves_the_events_in_chunks_and_undo_stays_exact(monkeypatch):
    monkeypatch.setattr("profiles.links.CONSOLIDATE_CHUNK", 2)
    ev(0, type="page", anonymous_id="laptop")
    ev(1, type="identify", user_id="kim-1", traits={"plan": "pro"})
    for m in range(2, 7):
        ev(m, type="track", event="Viewed", user_id="kim-1")
    events_resolve_pending()
    visitor, customer = owner("anonymous_id", "laptop"), owner("user_id", "kim-1")
    before = (snapshot(visitor), snapshot(customer))
    trigger = ev(7, type="identify", anonymous_id="laptop", user_id="kim-1")
    events_resolve_pending()
    assert links() == {customer.pk: visitor.pk}

    assert links_consolidate(max_events=3) == (4, False)  # two chunks of two
    assert links_consolidate() == (2, True)
    assert links() == {}
    assert set(Event.objects.values_list("profile_id", flat=True)) == {visitor.pk}
    merge = ProfileMerge.objects.get()
    assert set(merge.moved_event_ids) == set(before[1]["events"])
    assert whole_timeline(visitor, 3) == newest_first(Event.objects.all())

    profile_merge_undo(merge=merge, user=None)
    after = (snapshot(visitor), snapshot(customer))
    assert after[1] == before[1]
    assert after[0]["events"] == before[0]["events"] | {trigger.pk}


def test_consolidating_a_chain_keeps_each_merge_undoable():
    ev(0, type="page", anonymous_id="laptop")
    ev(1, type="page", user_id="kim-1")
    ev(2, type="identify", traits={"email": "kim@x.io"})
    events_resolve_pending()
    laptop, account, mail = (
        owner("anonymous_id", "laptop"),
        owner("user_id", "kim-1"),
        owner("email", "kim@x.io"),
    )
    mail_events = set(Event.objects.filter(profile=mail).values_list("pk", flat=True))
    ev(3, type="identify", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    ev(4, type="identify", anonymous_id="laptop", user_id="kim-1")
    events_resolve_pending()
    links_consolidate()
    assert set(Event.objects.values_list("profile_id", flat=True)) == {laptop.pk}

    profile_merge_undo(merge=ProfileMerge.objects.get(winner=laptop, loser=account), user=None)
    assert mail_events <= set(Event.objects.filter(profile=account).values_list("pk", flat=True))
    profile_merge_undo(merge=ProfileMerge.objects.get(winner=account, loser=mail), user=None)
    assert set(Event.objects.filter(profile=mail).values_list("pk", flat=True)) == mail_events
    assert links() == {}


def test_the_resolve_task_has_the_linked_events_moved_after_it():
    from profiles.tasks import events_resolve_task

    ev(0, type="page", anonymous_id="laptop")
    kims = {ev(1, type="page", user_id="kim-1").pk, ev(2, type="page", user_id="kim-1").pk}
    events_resolve_task.run()
    ev(3, type="identify", anonymous_id="laptop", user_id="kim-1")
    # Eager in tests: the consolidation task it queues runs at once.
    events_resolve_task.run()
    laptop = owner("anonymous_id", "laptop")
    assert links() == {}
    assert set(Event.objects.values_list("profile_id", flat=True)) == {laptop.pk}
    assert set(ProfileMerge.objects.get().moved_event_ids) == kims
