"""The compiler answers event conditions from the event aggregates where that is exact: the same
members as from raw events, on the edges of windows, and raw events where aggregates cannot say."""

import datetime as dt

import pytest
from django.db import connection

from profiles.aggregates import aggregates_rebuild, aggregates_refresh_events
from profiles.models import Profile
from segments.compiler import segment_queryset
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the event aggregates are kept on PostgreSQL")


def _event(profile, at, name="Order Completed", **properties):
    return EventFactory(profile=profile, event=name, timestamp=at, properties=properties)


def members(definition, now=NOW) -> set[int]:
    return set(segment_queryset(definition, now=now).values_list("pk", flat=True))


def sql(definition) -> str:
    return str(segment_queryset(definition, now=NOW).query)


def condition(count_op="at_least", n=1, window=None, where=()):
    node = {
        "type": "event",
        "event": "Order Completed",
        "count": {"operator": count_op, "value": n},
    }
    if window:
        node["window"] = window
    if where:
        node["where"] = list(where)
    return {"match": "all", "conditions": [node]}


@pytest.fixture
def people():
    """Edge: two orders on the first day of a 7-day window, one before its start, one after.
    Inside: two orders well inside. Before: two orders the day before the window."""
    edge, inside, before = (Profile.objects.create() for _ in range(3))
    start = NOW - dt.timedelta(days=7)
    _event(edge, start - dt.timedelta(hours=1))  # same day, before the window starts
    _event(edge, start + dt.timedelta(hours=3))  # same day, inside
    _event(inside, NOW - dt.timedelta(days=3))
    _event(inside, NOW - dt.timedelta(days=2), revenue=5)
    _event(before, start - dt.timedelta(days=1))
    _event(before, start - dt.timedelta(days=1, hours=2))
    return {"edge": edge.pk, "inside": inside.pk, "before": before.pk}


CASES = [
    condition(),
    condition(n=2),
    condition(n=3),
    condition(window={"last_days": 7}),
    condition(n=2, window={"last_days": 7}),
    condition("exactly", 1, window={"last_days": 7}),
    condition("at_most", 0, window={"last_days": 7}),
    condition(n=2, window={"from": "2026-06-07", "to": "2026-06-08"}),
    condition(window={"from": "2026-06-08"}),
    condition(n=2, window={"to": "2026-06-07"}),
]


@pytest.mark.parametrize("definition", CASES)
def test_aggregates_give_the_raw_events_answer(people, definition):
    raw = members(definition)
    aggregates_rebuild()
    window = definition["conditions"][0].get("window") or {}
    count = definition["conditions"][0]["count"]
    # A window starting inside a day, counting 2 or more, reads raw events.
    inside_a_day = "last_days" in window and (count["value"] > 1 or count["operator"] != "at_least")
    if not inside_a_day:
        assert "profiles_eventdayaggregate" in sql(definition) or "profiles_eventtotal" in sql(
            definition
        )
    assert members(definition) == raw


def test_the_first_day_of_a_window_counts_only_from_its_start(people):
    aggregates_rebuild()
    assert members(condition(n=2, window={"last_days": 7})) == {people["inside"]}
    assert members(condition(n=1, window={"last_days": 7})) == {people["edge"], people["inside"]}
    assert members(condition(n=2, window={"from": "2026-06-08"})) == {
        people["edge"],
        people["inside"],
    }


def test_a_window_starting_at_midnight_reads_whole_days_only(people):
    aggregates_rebuild()
    midnight = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)
    definition = condition(n=2, window={"last_days": 7})
    assert "profiles_event " not in str(segment_queryset(definition, now=midnight).query)
    assert members(definition, now=midnight) == {people["edge"], people["inside"]}


def test_property_filters_read_raw_events(people):
    aggregates_rebuild()
    definition = condition(where=[{"property": "revenue", "operator": "greater_than", "value": 1}])
    assert "eventdayaggregate" not in sql(definition)
    assert "eventtotal" not in sql(definition)
    assert members(definition) == {people["inside"]}


def test_new_events_are_counted_once_resolution_announces_them(people):
    aggregates_rebuild()
    new = _event(Profile.objects.get(pk=people["before"]), NOW - dt.timedelta(hours=1))
    aggregates_refresh_events(event_ids=[new.pk])
    assert members(condition(window={"last_days": 7})) == set(people.values())
    # Announced twice (a retried announcement), still counted once.
    aggregates_refresh_events(event_ids=[new.pk])
    assert members(condition("exactly", 3)) == {people["before"]}


def _from_both(definition) -> tuple[set[int], set[int]]:
    """(members from the aggregates as kept, members from raw events)."""
    from profiles.aggregates import aggregates_forget

    kept = members(definition)
    aggregates_forget()
    raw = members(definition)
    aggregates_rebuild()
    return kept, raw


def test_retention_keeps_the_aggregates_exact(people):
    from profiles.erasure import events_delete_before

    aggregates_rebuild()
    # The window's first day loses its early order, the day before loses both.
    assert events_delete_before(before=NOW - dt.timedelta(days=7), limit=100) == 3
    for definition in (condition(), condition(n=2), condition(window={"from": "2026-06-07"})):
        kept, raw = _from_both(definition)
        assert kept == raw
    assert members(condition()) == {people["edge"], people["inside"]}


def test_a_merge_moving_events_keeps_the_aggregates_exact(people):
    from profiles.aggregates import aggregates_refresh_profiles
    from profiles.models import Event

    aggregates_rebuild()
    Event.objects.filter(profile_id=people["before"]).update(profile_id=people["inside"])
    # What the merge's announcement runs for the two profiles.
    aggregates_refresh_profiles(profile_ids=[people["before"], people["inside"]])
    for definition in (condition(n=4), condition("exactly", 0)):
        kept, raw = _from_both(definition)
        assert kept == raw
    assert members(condition(n=4)) == {people["inside"]}
