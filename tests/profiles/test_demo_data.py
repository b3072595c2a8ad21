"""The synthetic shop: reproducible, messy like real data, and resolved into the right people."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from compliance.models import ConsentPurpose, ConsentRecord
from integrations.demo_data import APP, EMAIL, HELPDESK, RECENT_DAYS, WEB, shop_messages
from profiles.models import Event, Identity, Profile
from segments.compiler import segment_queryset


def _when(message: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))


def test_activity_ends_recently_whatever_the_day_and_keeps_its_shape():
    end = dt.datetime(2030, 3, 1, tzinfo=dt.UTC)
    messages = list(shop_messages(profiles=200, seed=1, end=end))
    times = [_when(m) for _, m in messages]
    assert max(times) <= end
    assert max(times) >= end - dt.timedelta(days=RECENT_DAYS)
    recent_orders: dict[str, int] = {}
    for _, m in messages:
        if m.get("event") == "Order Completed" and _when(m) >= end - dt.timedelta(days=90):
            recent_orders[m["userId"]] = recent_orders.get(m["userId"], 0) + 1
    # "Ordered at least twice in the last 90 days" finds a good share of the customers.
    assert sum(1 for n in recent_orders.values() if n >= 2) >= 20
    # Another end moves the same messages in time: same ids, same content, same gaps.
    later = list(shop_messages(profiles=200, seed=1, end=end + dt.timedelta(days=400)))
    assert [m["messageId"] for _, m in later] == [m["messageId"] for _, m in messages]
    assert [{**m, "timestamp": ""} for _, m in later] == [
        {**m, "timestamp": ""} for _, m in messages
    ]
    assert all(
        _when(b) - _when(a) == dt.timedelta(days=400)
        for (_, a), (_, b) in zip(messages, later, strict=True)
    )


def test_same_seed_same_messages_other_seed_other_messages():
    first = list(shop_messages(profiles=30, seed=7))
    assert first == list(shop_messages(profiles=30, seed=7))
    assert first != list(shop_messages(profiles=30, seed=8))


@pytest.mark.django_db
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
    # The purposes the installation is seeded with, so the consent picker finds the choices.
    seeded = set(ConsentPurpose.objects.values_list("key", flat=True))
    assert {"email_marketing", "analytics"} <= seeded
    assert all(set(c["categoryPreferences"]) == seeded for c in consent)
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
    # The consent choices reached the compliance app through resolution, for the purposes the
    # consent picker offers (e-mail marketing first).
    assert ConsentRecord.objects.filter(purpose__key="email_marketing").exists()
    # The marketer's first segment finds people on the day the demo is loaded.
    first_segment = {
        "match": "all",
        "conditions": [
            {
                "type": "event",
                "event": "Order Completed",
                "count": {"operator": "at_least", "value": 2},
                "window": {"last_days": 90},
            },
            {"type": "trait", "trait": "address.country", "operator": "equals", "value": "US"},
        ],
    }
    assert segment_queryset(first_segment).exists()
    # Running it again stores nothing new (same message ids).
    call_command("generate_data", profiles=60, seed=5, stdout=io.StringIO())
    assert Profile.objects.filter(merged_into__isnull=True).count() == 60
    assert (
        Identity.objects.filter(kind="email").count()
        == Identity.objects.filter(kind="user_id").count()
    )
