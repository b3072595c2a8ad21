"""Computed traits against values worked out by hand, on PostgreSQL: every kind, windows,
filters, missing and non-numeric values, merges and undo, from raw events and from aggregates."""

import datetime as dt
from decimal import Decimal

import pytest

from cdp_site.errors import InvalidInputError
from profiles.aggregates import aggregates_built, aggregates_rebuild, aggregates_refresh_events
from profiles.computed_traits import (
    computed_trait_create,
    computed_trait_delete,
    computed_traits_compute,
    definition_errors,
)
from profiles.models import ComputedTrait, Event, Profile, ProfileComputed
from profiles.services import profile_merge_undo
from tests.factories import EventFactory, merged_pair

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def at(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture(autouse=True)
def _postgresql(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("computed traits are computed on PostgreSQL")


def order(profile, days, **properties):
    return EventFactory(
        profile=profile, event="Order Completed", timestamp=at(days), properties=properties
    )


@pytest.fixture
def shop():
    """Ann: four orders (one with text revenue, one without), three product views.
    Bob: one page view. Cy: nothing at all."""
    ann, bob, cy = Profile.objects.create(), Profile.objects.create(), Profile.objects.create()
    order(ann, 40, revenue=30.5, currency="EUR")
    order(ann, 5, revenue=10, currency="usd")
    order(ann, 2, revenue="abc")
    order(ann, 1)
    for days, product in ((30, "x"), (20, "y"), (3, "x")):
        EventFactory(
            profile=ann, event="Product Viewed", timestamp=at(days), properties={"product": product}
        )
    EventFactory(profile=bob, type="page", event="", name="Home", timestamp=at(100))
    return ann, bob, cy


def values(profile) -> dict:
    row = ProfileComputed.objects.filter(profile=profile).first()
    return row.values if row else {}


def custom(key, kind, **fields):
    return computed_trait_create(data={"key": key, "name": key, "kind": kind, **fields})


@pytest.mark.parametrize("from_aggregates", [False, True])
def test_builtin_traits_match_hand_computed_values(shop, from_aggregates):
    ann, bob, cy = shop
    if from_aggregates:
        aggregates_rebuild()
    computed_traits_compute(now=NOW)
    assert aggregates_built()
    a = values(ann)
    assert a["order_count"] == 4
    # Text and missing revenue are skipped, never a failure.
    assert Decimal(str(a["lifetime_value"])) == Decimal("40.5")
    assert Decimal(str(a["average_order_value"])) == Decimal("20.25")
    assert a["first_order_at"].startswith(at(40).date().isoformat())
    assert a["last_order_at"].startswith(at(1).date().isoformat())
    assert a["last_seen_at"].startswith(at(1).date().isoformat())
    assert a["days_since_last_seen"] == 1
    b = values(bob)
    assert b == {
        "order_count": 0,
        "lifetime_value": 0,
        "last_seen_at": b["last_seen_at"],
        "days_since_last_seen": 100,
    }
    assert values(cy) == {"order_count": 0, "lifetime_value": 0}


def test_every_kind_with_windows_and_filters(shop):
    ann, bob, _cy = shop
    custom(
        "big_recent_orders",
        "event_count",
        event="Order Completed",
        window_days=7,
        where=[{"property": "revenue", "operator": "greater_than", "value": 5}],
    )
    custom(
        "usd_orders",
        "event_count",
        event="Order Completed",
        where=[{"property": "currency", "operator": "equals", "value": "USD"}],
    )
    custom("smallest_order", "min", event="Order Completed", property="revenue")
    custom("largest_order", "max", event="Order Completed", property="revenue")
    custom("recent_revenue", "sum", event="Order Completed", property="revenue", window_days=10)
    custom("favourite_product", "most_frequent", event="Product Viewed", property="product")
    custom("first_product", "first_value", event="Product Viewed", property="product")
    custom("last_product", "last_value", event="Product Viewed", property="product")
    custom("products_seen", "unique_count", event="Product Viewed", property="product")
    custom(
        "no_currency_orders",
        "event_count",
        event="Order Completed",
        where=[{"property": "currency", "operator": "is_not_set"}],
    )
    custom("first_view", "first_time", event="Product Viewed")
    custom("days_since_order", "days_since_last", event="Order Completed")
    computed_traits_compute(now=NOW)
    a = values(ann)
    assert a["big_recent_orders"] == 1  # 10 five days ago; "abc" is not a number
    assert a["usd_orders"] == 1  # text compares without case
    assert a["smallest_order"] == 10
    assert a["largest_order"] == 30.5
    assert a["recent_revenue"] == 10
    assert a["favourite_product"] == "x"
    assert a["first_product"] == "x"
    assert a["last_product"] == "x"
    assert a["products_seen"] == 2
    assert a["no_currency_orders"] == 2
    assert a["first_view"].startswith(at(30).date().isoformat())
    assert a["days_since_order"] == 1
    b = values(bob)
    assert b["big_recent_orders"] == 0
    assert b["products_seen"] == 0
    assert b["recent_revenue"] == 0
    for key in ("smallest_order", "favourite_product", "first_product", "first_view"):
        assert key not in b
    trait = ComputedTrait.objects.get(key="products_seen")
    assert trait.last_computed_at == NOW
    assert trait.last_duration_ms is not None
    assert trait.distribution["type"] == "number"
    assert sum(trait.distribution["counts"]) == 3


def test_most_frequent_ties_go_to_the_smallest_value():
    ann = Profile.objects.create()
    for product in ("b", "a", "b", "a", "c"):
        EventFactory(profile=ann, event="Viewed", timestamp=at(1), properties={"product": product})
    custom("fav", "most_frequent", event="Viewed", property="product")
    computed_traits_compute(now=NOW)
    assert values(ann)["fav"] == "a"


def test_other_writers_keys_are_kept(shop):
    ann, _bob, _cy = shop
    ProfileComputed.objects.create(profile=ann, values={"rfm_group": "Champions", "order_count": 9})
    computed_traits_compute(now=NOW)
    assert values(ann)["rfm_group"] == "Champions"
    assert values(ann)["order_count"] == 4


def test_incremental_recompute_touches_only_the_profiles_named(shop):
    ann, bob, _cy = shop
    computed_traits_compute(now=NOW)
    new = [order(bob, 0.5, revenue=7).pk, order(ann, 0.5, revenue=1).pk]
    # As resolution does when it announces the events it attached.
    aggregates_refresh_events(event_ids=new)
    computed_traits_compute(profile_ids=[bob.pk], now=NOW)
    assert values(bob)["order_count"] == 1
    assert values(ann)["order_count"] == 4


def test_a_deleted_definition_leaves_no_values(shop):
    ann, _bob, _cy = shop
    trait = custom("views", "event_count", event="Product Viewed")
    computed_traits_compute(now=NOW)
    assert values(ann)["views"] == 3
    computed_trait_delete(trait=trait)
    assert "views" not in values(ann)


def test_a_failing_definition_is_recorded_and_the_others_still_compute(shop):
    ann, _bob, _cy = shop
    ComputedTrait.objects.create(
        key="broken",
        name="Broken",
        kind="max",
        event="Order Completed",
        property="revenue",
        where=[{"property": "revenue", "operator": "greater_than", "value": "x"}],
    )
    result = computed_traits_compute(now=NOW)
    assert result["failed"] == ["broken"]
    assert ComputedTrait.objects.get(key="broken").last_error
    assert values(ann)["order_count"] == 4


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"key": "Bad Key", "name": "x", "kind": "event_count"}, "key"),
        ({"key": "rfm_group", "name": "x", "kind": "event_count"}, "key"),
        ({"key": "order_count", "name": "x", "kind": "event_count"}, "key"),
        ({"key": "k", "name": "", "kind": "event_count"}, "name"),
        ({"key": "k", "name": "x", "kind": "median"}, "kind"),
        ({"key": "k", "name": "x", "kind": "sum", "event": "E"}, "property"),
        ({"key": "k", "name": "x", "kind": "sum", "property": "p"}, "event"),
        ({"key": "k", "name": "x", "kind": "event_count", "window_days": 0}, "window_days"),
        (
            {
                "key": "k",
                "name": "x",
                "kind": "event_count",
                "where": [{"property": "p", "operator": "greater_than", "value": "x"}],
            },
            "where.0",
        ),
    ],
)
def test_invalid_definitions_are_refused_with_the_field(data, field):
    before = list(ComputedTrait.objects.values_list("key", "name"))
    assert field in definition_errors(data)
    with pytest.raises(InvalidInputError):
        computed_trait_create(data=data)
    assert list(ComputedTrait.objects.values_list("key", "name")) == before


def test_merge_and_undo_recompute_the_profiles_involved(django_capture_on_commit_callbacks):
    from django.utils import timezone

    aggregates_rebuild()
    start = timezone.now() - dt.timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        merge = merged_pair(start)
    winner, loser = merge.winner, merge.loser
    # Tasks run inline: the merge recomputed the winner from every event it holds now.
    day = (start + dt.timedelta(days=2)).date().isoformat()
    assert values(winner)["last_seen_at"].startswith(day)
    assert not ProfileComputed.objects.filter(profile=loser).exists()
    with django_capture_on_commit_callbacks(execute=True):
        profile_merge_undo(merge=merge, user=None)
    loser_days = {e.timestamp.date().isoformat() for e in Event.objects.filter(profile=loser)}
    assert values(loser)["last_seen_at"][:10] == max(loser_days)
    winner_days = {e.timestamp.date().isoformat() for e in Event.objects.filter(profile=winner)}
    assert values(winner)["last_seen_at"][:10] == max(winner_days)
    orders = Event.objects.filter(profile=winner, event="Order Completed").count()
    assert values(winner)["order_count"] == orders


def test_data_subject_requests_export_and_erase_computed_values(shop):
    from cdp_site.erasure import Subject, stores

    ann, bob, _cy = shop
    aggregates_rebuild()
    computed_traits_compute(now=NOW)
    store = next(s for s in stores() if s.name == "profiles.computed")
    subject = Subject(identifiers={}, values=(), profile_ids=frozenset({ann.pk}))
    exported = store.export(subject)["computed values"]
    assert [row["values"]["order_count"] for row in exported] == [4]
    rows = store.count(subject)
    assert rows > 1  # the values and the event aggregates
    assert store.erase(subject) == rows
    assert store.count(subject) == 0
    assert values(bob)["order_count"] == 0
    assert store.erase(Subject(identifiers={}, values=())) == 0
