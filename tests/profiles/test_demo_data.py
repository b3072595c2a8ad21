"""The synthetic shop: reproducible, messy like real data, and resolved into the right people."""

import io

import pytest
from django.core.management import call_command

from compliance.models import ConsentRecord
from integrations.demo_data import APP, EMAIL, HELPDESK, WEB, shop_messages
from profiles.models import Event, Identity, Profile


def test_same_seed_same_messages_other_seed_other_messages():
    first = list(shop_messages(profiles=30, seed=7))
    assert first == list(shop_messages(profiles=30, seed=7))
    assert first != list(shop_messages(profiles=30, seed=8))


def test_messages_follow_the_tracking_spec_and_are_messy():
    messages = list(shop_messages(profiles=300, seed=3))
    assert {source for source, _ in messages} == {WEB, APP, HELPDESK, EMAIL}
    for _, message in messages:
        assert message["type"] in {"identify", "track", "page", "screen", "alias"}
        assert message.get("userId") or message.get("anonymousId")
        assert message["messageId"]
        assert message["timestamp"].endswith("Z")
    emails = [m["traits"]["email"] for _, m in messages if m["type"] == "identify"]
    assert any(e != e.strip() for e in emails)
    assert any(e != e.lower() and e.strip() for e in emails)
    # A few mistyped past a form (never matched, kept as traits), and placeholder ids.
    assert any(" at " in e or "." not in e.partition("@")[2] for e in emails)
    placeholders = {m.get("anonymousId") for _, m in messages} & {"undefined", "null"}
    assert placeholders
    phones = {m["traits"].get("phone", "")[:2] for _, m in messages if m["type"] == "identify"}
    assert "+1" in phones
    assert "(" in {p[:1] for p in phones}
    events = {m.get("event") for _, m in messages}
    assert {
        "Order Completed",
        "Ticket Created",
        "Email Opened",
        "Segment Consent Preference Updated",
    } <= events
    consent = [m["context"]["consent"] for _, m in messages if "consent" in m["context"]]
    assert consent
    assert all(set(c["categoryPreferences"]) == {"marketing", "analytics"} for c in consent)
    orders = [m for _, m in messages if m.get("event") == "Order Completed"]
    assert all(o["properties"]["revenue"] > 0 and o["properties"]["products"] for o in orders)
    anonymous_ids = {}
    for _, m in messages:
        if m["type"] == "identify":
            anonymous_ids.setdefault(m["anonymousId"], set()).add(m["userId"])
    assert any(len(users) > 1 for users in anonymous_ids.values()), "a shared device"


@pytest.mark.django_db(transaction=True)
def test_generate_data_goes_through_ingest_and_resolves_one_profile_per_person():
    call_command("generate_data", profiles=60, seed=5, stdout=io.StringIO())
    assert Event.objects.count() == len(list(shop_messages(profiles=60, seed=5)))
    assert not Event.objects.filter(resolved_at__isnull=True).exists()
    assert Profile.objects.filter(merged_into__isnull=True).count() == 60
    assert not Identity.objects.filter(value__in=["undefined", "null"]).exists()
    assert not Identity.objects.filter(kind="email", value__contains=" ").exists()
    # Each signed-up person has exactly one user id and one e-mail on one profile.
    for profile in Profile.objects.filter(identities__kind="user_id"):
        kinds = list(profile.identities.values_list("kind", flat=True))
        assert kinds.count("user_id") == 1
        assert kinds.count("email") == 1
    # The consent choices reached the compliance app through resolution.
    assert ConsentRecord.objects.exists()
    # Running it again stores nothing new (same message ids).
    call_command("generate_data", profiles=60, seed=5, stdout=io.StringIO())
    assert Profile.objects.filter(merged_into__isnull=True).count() == 60
    assert (
        Identity.objects.filter(kind="email").count()
        == Identity.objects.filter(kind="user_id").count()
    )
