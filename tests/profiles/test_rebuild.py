"""The rebuild command re-derives the same people from the events."""

import io

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from compliance.models import ConsentPurpose, ConsentRecord
from profiles.identity import REBUILD_LOCK_KEY, events_resolve_pending
from profiles.models import Event, Identity, IdentityRule, Profile, ProfileMerge
from profiles.services import profile_merge_undo
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def people() -> set[frozenset]:
    """Each live profile as the set of its identifiers: comparable across rebuilds."""
    return {
        frozenset(p.identities.values_list("kind", "value"))
        for p in Profile.objects.filter(merged_into__isnull=True)
    }


def test_rebuild_gives_the_same_people_and_shows_progress():
    EventFactory(type="page", anonymous_id="a-1")
    EventFactory(type="identify", anonymous_id="a-1", user_id="u-1", traits={"email": "x@y.io"})
    EventFactory(type="identify", anonymous_id="a-2", user_id="u-2")
    EventFactory(type="identify", anonymous_id="", user_id="u-2", traits={"email": "X@y.io"})
    events_resolve_pending()
    before = people()
    out = io.StringIO()
    call_command("rebuild", yes=True, batch_size=2, stdout=out)
    assert people() == before
    assert not Event.objects.filter(resolved_at__isnull=True).exists()
    assert "4/4 events (100%)" in out.getvalue()


def test_rebuild_applies_changed_rules():
    EventFactory(type="identify", anonymous_id="", user_id="u-1", traits={"email": "a@y.io"})
    EventFactory(type="identify", anonymous_id="", user_id="u-1", traits={"email": "b@y.io"})
    events_resolve_pending()
    assert Identity.objects.filter(kind="email").count() == 2
    IdentityRule.objects.create(kind="email", limit=1, priority=2)
    call_command("rebuild", yes=True, stdout=io.StringIO())
    assert list(Identity.objects.filter(kind="email").values_list("value", flat=True)) == ["a@y.io"]


def test_rebuild_asks_first(monkeypatch):
    EventFactory(type="identify", anonymous_id="", user_id="u-1")
    events_resolve_pending()
    profile = Profile.objects.get()
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    call_command("rebuild", stdout=io.StringIO())
    assert Profile.objects.get() == profile


def _by_person() -> dict[frozenset, int]:
    return {
        frozenset(p.identities.values_list("kind", "value")): p.pk
        for p in Profile.objects.filter(merged_into__isnull=True)
    }


def _consent(profile, key="email_marketing", **evidence):
    return ConsentRecord.objects.create(
        profile=profile,
        purpose=ConsentPurpose.objects.get(key=key),
        granted=False,
        recorded_at=timezone.now(),
        evidence=evidence,
    )


def test_rebuild_keeps_every_profile_id_and_what_hangs_off_it(django_capture_on_commit_callbacks):
    EventFactory(type="page", anonymous_id="a-1")
    EventFactory(type="identify", anonymous_id="a-1", user_id="u-1", traits={"email": "x@y.io"})
    EventFactory(type="identify", anonymous_id="a-2", user_id="u-2", traits={"name": "Bo"})
    events_resolve_pending()
    before = _by_person()
    kept = Profile.objects.get(pk=before[frozenset({("user_id", "u-2"), ("anonymous_id", "a-2")})])
    choice = _consent(kept, by="support")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rebuild", yes=True, batch_size=1, stdout=io.StringIO())

    assert _by_person() == before
    kept.refresh_from_db()
    assert kept.traits == {"name": "Bo"}
    assert kept.merged_into_id is None
    choice.refresh_from_db()
    assert choice.profile_id == kept.pk
    assert Profile.objects.count() == 2


def test_a_person_the_new_rules_split_keeps_the_id_in_one_part(django_capture_on_commit_callbacks):
    EventFactory(type="identify", anonymous_id="tablet", user_id="u-1")
    carried = EventFactory(
        type="identify",
        anonymous_id="tablet",
        traits={"email": "x@y.io"},
        context={"consent": {"categoryPreferences": {"email_marketing": False}}},
    )
    events_resolve_pending()
    old = Profile.objects.get()
    choice = _consent(old, event_id=carried.pk)
    IdentityRule.objects.create(kind="anonymous_id", blocked_values=["tablet"])

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rebuild", yes=True, stdout=io.StringIO())

    people = _by_person()
    assert set(people) == {frozenset({("user_id", "u-1")}), frozenset({("email", "x@y.io")})}
    assert people[frozenset({("user_id", "u-1")})] == old.pk
    carried.refresh_from_db()
    assert carried.profile_id == people[frozenset({("email", "x@y.io")})] != old.pk
    # The choice the event carried went with the event.
    choice.refresh_from_db()
    assert choice.profile_id == carried.profile_id


def test_people_the_new_rules_join_keep_one_id_and_the_other_leads_there(
    client_for, support_agent, django_capture_on_commit_callbacks
):
    IdentityRule.objects.create(kind="phone", blocked_values=[".*"])
    EventFactory(type="identify", anonymous_id="a-1", traits={"phone": "+12065550100"})
    EventFactory(type="page", anonymous_id="a-1")
    EventFactory(type="identify", anonymous_id="a-2", traits={"phone": "+12065550100"})
    events_resolve_pending()
    first = Identity.objects.get(value="a-1").profile
    second = Identity.objects.get(value="a-2").profile
    manual = _consent(second, by="support")
    IdentityRule.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rebuild", yes=True, stdout=io.StringIO())

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.merged_into_id is None
    assert second.merged_into_id == first.pk
    assert set(first.identities.values_list("value", flat=True)) == {"a-1", "a-2", "+12065550100"}
    manual.refresh_from_db()
    assert manual.profile_id == first.pk
    response = client_for(support_agent).get(f"/customers/{second.pk}/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/customers/{first.pk}/")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL advisory lock")
def test_workers_resolve_nothing_while_a_rebuild_runs_elsewhere():
    EventFactory(type="identify", anonymous_id="", user_id="u-1")
    settings = connection.settings_dict
    # Another session holds the rebuild lock, as a running rebuild does.
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as rebuild:
        rebuild.execute("SELECT pg_advisory_lock(%s)", [REBUILD_LOCK_KEY])
        assert events_resolve_pending() == 0
        assert Event.objects.filter(resolved_at__isnull=True).count() == 1
        rebuild.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK_KEY])
    assert events_resolve_pending() == 1


def test_a_profile_merged_away_keeps_its_id_through_a_rebuild(support_agent):
    EventFactory(type="identify", anonymous_id="laptop", traits={"email": "kim@x.io"})
    EventFactory(type="identify", anonymous_id="", user_id="kim-1")
    events_resolve_pending()
    EventFactory(type="identify", anonymous_id="", user_id="kim-1", traits={"email": "kim@x.io"})
    events_resolve_pending()
    merge = ProfileMerge.objects.get()
    before = set(Profile.objects.values_list("pk", "merged_into_id"))

    call_command("rebuild", yes=True, stdout=io.StringIO())

    # The same rows: no new row for the profile merged away again.
    assert set(Profile.objects.values_list("pk", "merged_into_id")) == before
    again = ProfileMerge.objects.get()
    assert (again.winner_id, again.loser_id) == (merge.winner_id, merge.loser_id)
    # An undo after the rebuild brings the person back under their old id.
    profile_merge_undo(merge=again, user=support_agent)
    assert Identity.objects.get(kind="user_id", value="kim-1").profile_id == merge.loser_id
