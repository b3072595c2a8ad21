"""The rebuild command re-derives the same people from the events."""

import io

import pytest
from django.core.management import call_command

from profiles.identity import events_resolve_pending
from profiles.models import Event, Identity, IdentityRule, Profile
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
