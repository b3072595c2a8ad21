"""Identity resolution scenarios: every rule of the resolver, on stored events."""

import datetime as dt

import pytest
from django.utils import timezone

from profiles.identity import events_resolve_pending
from profiles.models import Event, Identity, IdentityRule, Profile, ProfileMerge
from profiles.signals import events_resolved, profiles_merged
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def ev(**kwargs) -> Event:
    """A stored, unresolved event carrying only the identifiers a test gives it."""
    kwargs.setdefault("anonymous_id", "")
    return EventFactory(**kwargs)


def live_profiles():
    return Profile.objects.filter(merged_into__isnull=True)


def identities_of(profile) -> set[tuple[str, str]]:
    return set(Identity.objects.filter(profile=profile).values_list("kind", "value"))


def test_anonymous_pages_then_identify_are_one_person():
    ev(type="page", anonymous_id="anon-1", timestamp=at(0))
    ev(type="page", anonymous_id="anon-1", timestamp=at(1))
    ev(
        type="identify",
        anonymous_id="anon-1",
        user_id="u-1",
        traits={"email": "a@b.io"},
        timestamp=at(2),
    )
    assert events_resolve_pending() == 3
    profile = live_profiles().get()
    assert Event.objects.filter(profile=profile).count() == 3
    assert identities_of(profile) == {
        ("anonymous_id", "anon-1"),
        ("user_id", "u-1"),
        ("email", "a@b.io"),
    }
    assert profile.traits == {"email": "a@b.io"}
    assert profile.first_seen == at(0)
    assert profile.last_seen == at(2)


def test_identify_first_resolved_later_stitches_earlier_anonymous_history():
    ev(type="identify", user_id="u-1", traits={"name": "Ann"}, timestamp=at(5))
    assert events_resolve_pending() == 1
    ev(type="page", anonymous_id="anon-9", timestamp=at(0))
    ev(type="alias", user_id="u-1", previous_id="anon-9", timestamp=at(6))
    assert events_resolve_pending() == 2
    # The page came first, alone; the alias then merged its profile with u-1's.
    profile = live_profiles().get()
    assert Event.objects.filter(profile=profile).count() == 3
    assert ("anonymous_id", "anon-9") in identities_of(profile)


def test_alias_links_previous_anonymous_id_to_user():
    ev(type="track", event="Viewed", anonymous_id="anon-2", timestamp=at(0))
    ev(type="alias", user_id="u-2", previous_id="anon-2", timestamp=at(1))
    ev(type="track", event="Bought", user_id="u-2", timestamp=at(2))
    events_resolve_pending()
    profile = live_profiles().get()
    assert Event.objects.filter(profile=profile).count() == 3


def test_shared_device_with_two_user_ids_stays_two_people():
    ev(type="identify", anonymous_id="tablet", user_id="alice", timestamp=at(0))
    ev(type="identify", anonymous_id="tablet", user_id="bob", timestamp=at(1))
    events_resolve_pending()
    assert live_profiles().count() == 2
    alice = Identity.objects.get(kind="user_id", value="alice").profile
    bob = Identity.objects.get(kind="user_id", value="bob").profile
    assert alice != bob
    # The device stays with the first person; Bob's event dropped it.
    assert identities_of(bob) == {("user_id", "bob")}
    assert not ProfileMerge.objects.exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Jane.Doe@Example.com", "  jane.doe@example.COM "),
        ("JANE@EXAMPLE.COM", "jane@example.com"),
    ],
)
def test_email_case_and_spaces_match(first, second):
    ev(type="identify", user_id="u-1", traits={"email": first}, timestamp=at(0))
    ev(type="identify", anonymous_id="a-7", traits={"email": second}, timestamp=at(1))
    events_resolve_pending()
    assert live_profiles().count() == 1
    assert Identity.objects.filter(kind="email").count() == 1


@pytest.mark.parametrize(
    "written",
    ["(415) 555-0132", "+1 415 555 0132", "415.555.0132", "+14155550132", "1-415-555-0132"],
)
def test_phone_formats_match(written, settings):
    settings.CDP_PHONE_DEFAULT_REGION = "US"
    ev(type="identify", user_id="u-1", traits={"phone": "415-555-0132"}, timestamp=at(0))
    ev(type="identify", anonymous_id="a-1", traits={"phone": written}, timestamp=at(1))
    events_resolve_pending()
    assert live_profiles().count() == 1
    assert Identity.objects.get(kind="phone").value == "+14155550132"


def test_invalid_email_and_phone_are_kept_as_traits_but_never_matched():
    ev(type="identify", user_id="u-1", traits={"email": "not-an-email", "phone": "12"})
    ev(type="identify", user_id="u-2", traits={"email": "not-an-email", "phone": "12"})
    events_resolve_pending()
    assert live_profiles().count() == 2
    assert not Identity.objects.filter(kind__in=["email", "phone"]).exists()
    assert {p.traits["email"] for p in live_profiles()} == {"not-an-email"}


@pytest.mark.parametrize(
    "blocked", ["0", "000-000", "-1", "null", "anonymous", "undefined", "NULL"]
)
def test_blocked_values_never_match(blocked):
    ev(type="identify", anonymous_id=blocked, user_id="u-1", timestamp=at(0))
    ev(type="identify", anonymous_id=blocked, user_id="u-2", timestamp=at(1))
    events_resolve_pending()
    assert live_profiles().count() == 2
    assert not Identity.objects.filter(kind="anonymous_id").exists()


def test_blocked_values_configured_per_kind():
    IdentityRule.objects.create(kind="device_id", blocked_values=["test-device-.*"])
    for n, user in enumerate(["u-1", "u-2"]):
        ev(
            type="track",
            event="Opened",
            user_id=user,
            context={"device": {"id": "test-device-1"}},
            timestamp=at(n),
        )
    events_resolve_pending()
    assert live_profiles().count() == 2
    assert not Identity.objects.filter(kind="device_id").exists()


def test_event_without_usable_identifier_is_resolved_to_no_profile():
    event = ev(type="page", anonymous_id="undefined")
    assert events_resolve_pending() == 1
    event.refresh_from_db()
    assert event.resolved_at is not None
    assert event.profile is None


def test_limit_overflow_drops_lowest_priority_identifier():
    IdentityRule.objects.create(kind="email", limit=1, priority=2)
    ev(type="identify", user_id="u-1", traits={"email": "one@x.io"}, timestamp=at(0))
    # Same user, a second e-mail: the e-mail (lower priority than user_id) is dropped.
    ev(type="identify", user_id="u-1", traits={"email": "two@x.io"}, timestamp=at(1))
    events_resolve_pending()
    profile = live_profiles().get()
    assert identities_of(profile) == {("user_id", "u-1"), ("email", "one@x.io")}
    assert Event.objects.filter(profile=profile).count() == 2


def test_priority_decides_which_identifier_goes():
    # Two known profiles, one by e-mail, one by device; merging would give two user ids, so the
    # lowest-priority identifier (device_id, after email) is dropped and the event joins Ann.
    ev(type="identify", user_id="ann", traits={"email": "ann@x.io"}, timestamp=at(0))
    ev(
        type="track",
        event="Opened",
        user_id="bob",
        context={"device": {"id": "d-1"}},
        timestamp=at(1),
    )
    ev(
        type="identify",
        user_id="ann",
        traits={"email": "ann@x.io"},
        context={"device": {"id": "d-1"}},
        timestamp=at(2),
    )
    events_resolve_pending()
    ann = Identity.objects.get(kind="user_id", value="ann").profile
    assert Event.objects.filter(profile=ann).count() == 2
    assert ("device_id", "d-1") not in identities_of(ann)


def test_merge_moves_everything_and_records_evidence():
    ev(type="identify", anonymous_id="a-1", traits={"email": "z@x.io"}, timestamp=at(0))
    ev(type="identify", user_id="u-1", traits={"plan": "pro"}, timestamp=at(1))
    events_resolve_pending()
    assert live_profiles().count() == 2
    older = Identity.objects.get(kind="anonymous_id").profile
    newer = Identity.objects.get(kind="user_id").profile
    trigger = ev(
        type="identify", user_id="u-1", traits={"email": "Z@x.io", "name": "Zoe"}, timestamp=at(2)
    )
    events_resolve_pending()
    winner = live_profiles().get()
    assert winner == older
    merge = ProfileMerge.objects.get()
    assert (merge.winner, merge.loser, merge.event_id) == (older, newer, trigger.id)
    assert {(i["kind"], i["value"]) for i in merge.identifiers} == {
        ("user_id", "u-1"),
        ("email", "z@x.io"),
    }
    assert Event.objects.filter(profile=winner).count() == 3
    assert winner.traits == {"email": "Z@x.io", "plan": "pro", "name": "Zoe"}
    newer.refresh_from_db()
    assert newer.merged_into == winner


def test_traits_last_write_wins_by_event_time_not_arrival():
    ev(type="identify", user_id="u-1", traits={"plan": "pro"}, timestamp=at(10))
    events_resolve_pending()
    ev(type="identify", user_id="u-1", traits={"plan": "free", "tier": 2}, timestamp=at(5))
    events_resolve_pending()
    profile = live_profiles().get()
    assert profile.traits == {"plan": "pro", "tier": 2}


def test_run_twice_is_idempotent():
    ev(type="identify", user_id="u-1", traits={"email": "a@b.io"})
    ev(type="page", anonymous_id="x")
    assert events_resolve_pending() == 2
    before = (
        list(Profile.objects.values_list("id", "traits")),
        list(Identity.objects.values_list("id", "profile_id")),
        list(Event.objects.values_list("id", "profile_id", "resolved_at")),
    )
    assert events_resolve_pending() == 0
    after = (
        list(Profile.objects.values_list("id", "traits")),
        list(Identity.objects.values_list("id", "profile_id")),
        list(Event.objects.values_list("id", "profile_id", "resolved_at")),
    )
    assert before == after


def test_small_batches_give_the_same_people_as_one_batch():
    source = SourceFactory()
    for n in range(30):
        ev(source=source, type="page", anonymous_id=f"a-{n % 7}", timestamp=at(n))
        if n % 3 == 0:
            ev(
                source=source,
                type="identify",
                anonymous_id=f"a-{n % 7}",
                user_id=f"u-{n % 5}",
                timestamp=at(n),
            )
    assert events_resolve_pending(batch_size=4) == Event.objects.count()
    assert not Event.objects.filter(profile__isnull=True).exists()
    for identity in Identity.objects.all():
        assert identity.profile.merged_into_id is None


def test_signals_sent_once_per_batch_after_commit(django_capture_on_commit_callbacks):
    received, merged = [], []

    def on_resolved(sender, profile_ids, event_ids, **kwargs):
        received.append((sorted(profile_ids), sorted(event_ids)))

    def on_merged(sender, merges, **kwargs):
        merged.append(list(merges))

    events_resolved.connect(on_resolved)
    profiles_merged.connect(on_merged)
    try:
        e1 = ev(type="identify", anonymous_id="a", traits={"email": "m@x.io"}, timestamp=at(0))
        e2 = ev(type="identify", user_id="u", timestamp=at(1))
        e3 = ev(type="identify", user_id="u", traits={"email": "m@x.io"}, timestamp=at(2))
        with django_capture_on_commit_callbacks(execute=True):
            events_resolve_pending()
        assert len(received) == 1
        assert received[0][1] == sorted([e1.id, e2.id, e3.id])
        winner = live_profiles().get()
        assert winner.id in received[0][0]
        assert len(merged) == 1
        assert [winner_id for winner_id, _loser in merged[0]] == [winner.id]
    finally:
        events_resolved.disconnect(on_resolved)
        profiles_merged.disconnect(on_merged)


def test_external_ids_and_device_ids_are_identifiers():
    ev(
        type="track",
        event="Opened",
        anonymous_id="a-1",
        context={"device": {"id": "dev-1"}, "externalIds": [{"id": "zd-7", "type": "zendesk_id"}]},
        timestamp=at(0),
    )
    ev(
        type="track",
        event="Ticket",
        context={"externalIds": [{"id": "zd-7", "type": "zendesk_id"}]},
        anonymous_id="a-2",
        timestamp=at(1),
    )
    events_resolve_pending()
    profile = live_profiles().get()
    assert ("zendesk_id", "zd-7") in identities_of(profile)
    assert ("device_id", "dev-1") in identities_of(profile)


def test_resolved_at_set_for_every_event():
    ev(type="page", anonymous_id="a")
    events_resolve_pending()
    assert not Event.objects.filter(resolved_at__isnull=True).exists()
    assert Event.objects.get().resolved_at <= timezone.now()


def test_later_event_moves_last_seen_and_keeps_traits():
    ev(type="identify", user_id="u-1", traits={"plan": "pro"}, timestamp=at(0))
    events_resolve_pending()
    ev(type="page", user_id="u-1", timestamp=at(30))
    ev(type="page", user_id="u-1", timestamp=at(-30))
    events_resolve_pending()
    profile = live_profiles().get()
    assert (profile.first_seen, profile.last_seen) == (at(-30), at(30))
    assert profile.traits == {"plan": "pro"}
    identity = Identity.objects.get(kind="user_id")
    assert (identity.first_seen, identity.last_seen) == (at(-30), at(30))


def test_resolve_task_run_twice_resolves_once():
    from profiles.tasks import events_resolve_task

    ev(type="identify", user_id="u-1", traits={"email": "t@x.io"})
    assert events_resolve_task.delay().get() == 1
    assert events_resolve_task.delay().get() == 0
    assert live_profiles().count() == 1


def test_new_ids_ascend_in_the_order_profiles_identities_and_merges_arose():
    ev(type="identify", anonymous_id="a-1", traits={"email": "first@x.io"}, timestamp=at(0))
    ev(type="page", anonymous_id="a-2", timestamp=at(1))
    ev(type="identify", anonymous_id="a-2", traits={"email": "first@x.io"}, timestamp=at(2))
    ev(type="page", anonymous_id="a-3", timestamp=at(3))
    ev(type="identify", anonymous_id="a-3", traits={"email": "first@x.io"}, timestamp=at(4))
    events_resolve_pending()
    profiles = list(Profile.objects.order_by("id").values_list("first_seen", flat=True))
    assert profiles == [at(0), at(1), at(3)]
    identities = list(Identity.objects.order_by("id").values_list("kind", "value"))
    # Within an event, identifiers come in rule priority order: e-mail before anonymous id.
    assert identities == [
        ("email", "first@x.io"),
        ("anonymous_id", "a-1"),
        ("anonymous_id", "a-2"),
        ("anonymous_id", "a-3"),
    ]
    first, second, third = Profile.objects.order_by("id")
    merges = list(ProfileMerge.objects.order_by("id").values_list("winner_id", "loser_id"))
    assert merges == [(first.pk, second.pk), (first.pk, third.pk)]


def test_traits_and_times_come_back_exactly():
    big = 123456789012345678901234567890
    stamp = dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    ev(type="identify", user_id="u-1", traits={"big": big, "note": "Zoë"}, timestamp=stamp)
    events_resolve_pending()
    ev(type="identify", user_id="u-1", traits={"plan": "pro"}, timestamp=stamp)
    events_resolve_pending()
    profile = live_profiles().get()
    assert profile.traits == {"big": big, "note": "Zoë", "plan": "pro"}
    assert isinstance(profile.traits["big"], int)
    assert (profile.first_seen, profile.last_seen) == (stamp, stamp)
    assert profile.trait_meta["plan"]["at"] == stamp.isoformat()
    identity = Identity.objects.get(kind="user_id")
    assert (identity.first_seen, identity.last_seen) == (stamp, stamp)


def test_a_profile_merged_by_another_worker_meanwhile_is_followed_without_a_retry(monkeypatch):
    from profiles.identity import store

    ev(type="identify", anonymous_id="a-1", traits={"email": "z@x.io"}, timestamp=at(0))
    ev(type="identify", user_id="u-1", timestamp=at(1))
    events_resolve_pending()
    loser = Identity.objects.get(kind="user_id").profile
    ev(type="identify", user_id="u-1", traits={"email": "z@x.io"}, timestamp=at(2))
    events_resolve_pending()
    winner = live_profiles().get()
    late = ev(type="track", user_id="u-1", timestamp=at(3))

    # The first look-up answers as it would have before the merge committed elsewhere.
    real_owners, lookups, claims = store.identity_owners, [], []

    def owners(pairs):
        lookups.append(pairs)
        if len(lookups) == 1:
            return {("user_id", "u-1"): loser.pk}
        return real_owners(pairs)

    def claim(*args):
        claims.append(args)
        return real_claim(*args)

    real_claim = store.events_claim
    monkeypatch.setattr(store, "identity_owners", owners)
    monkeypatch.setattr(store, "events_claim", claim)
    assert events_resolve_pending() == 1
    late.refresh_from_db()
    assert late.profile == winner
    assert len(claims) == 2  # the batch and the empty claim that ends the run: no retry
    assert list(live_profiles()) == [winner]


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_once_is_sent_again_and_the_batch_still_counts():
    """A deadlocked receiver (consent capture, say) runs after the batch committed: it is sent
    again, and the batch is neither retried nor left out of the count."""
    from django.db import OperationalError

    calls = []

    def flaky(sender, profile_ids, event_ids, **kwargs):
        calls.append(sorted(event_ids))
        if len(calls) == 1:
            raise OperationalError("deadlock detected")

    events = [
        ev(type="identify", user_id="u1", timestamp=at(0)),
        ev(type="track", event="Opened", user_id="u1", timestamp=at(1)),
        ev(type="identify", user_id="u2", timestamp=at(2)),
    ]
    events_resolved.connect(flaky)
    try:
        assert events_resolve_pending() == 3
    finally:
        events_resolved.disconnect(flaky)
    assert calls == [sorted(e.id for e in events)] * 2
    assert not Event.objects.filter(resolved_at__isnull=True).exists()


def test_each_merge_of_a_three_way_merge_names_only_its_own_evidence():
    EventFactory(type="identify", anonymous_id="a1", traits={"email": "e@x.io"}, timestamp=T0)
    EventFactory(type="identify", anonymous_id="", user_id="u1", timestamp=T0 + dt.timedelta(1))
    EventFactory(type="page", anonymous_id="a2", timestamp=T0 + dt.timedelta(2))
    events_resolve_pending()
    EventFactory(
        type="identify",
        anonymous_id="a2",
        user_id="u1",
        traits={"email": "e@x.io"},
        timestamp=T0 + dt.timedelta(3),
    )
    events_resolve_pending()
    merges = list(ProfileMerge.objects.order_by("pk"))
    assert len(merges) == 2
    evidence = [{(i["kind"], i["value"]) for i in m.identifiers} for m in merges]
    assert evidence == [
        {("email", "e@x.io"), ("user_id", "u1")},
        {("email", "e@x.io"), ("anonymous_id", "a2")},
    ]
