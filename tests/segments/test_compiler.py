"""Scenario tests of the compiler: every operator, missing and mistyped traits, zero counts."""

import datetime as dt

import pytest

from compliance.models import ConsentPurpose, ConsentRecord
from integrations.models import Source
from profiles.models import Event, Identity, Profile, ProfileLink
from segments.compiler import explain, segment_queryset
from segments.models import Segment

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
MISSING = object()


def _matches(trait_value, operator, value=None) -> bool:
    traits = {} if trait_value is MISSING else {"t": trait_value}
    profile = Profile.objects.create(traits=traits)
    definition = {
        "match": "all",
        "conditions": [{"type": "trait", "trait": "t", "operator": operator, "value": value}],
    }
    return segment_queryset(definition, now=NOW).filter(pk=profile.pk).exists()


TRAIT_CASES = [
    # (trait value, operator, value, expected)
    ("DE", "equals", "de", True),
    ("DE", "equals", "DEU", False),
    (5, "equals", 5, True),
    (5.0, "equals", 5, True),
    ("5", "equals", 5, False),
    (MISSING, "equals", "de", False),
    ("DE", "not_equals", "de", False),
    ("FR", "not_equals", "de", True),
    (MISSING, "not_equals", "de", True),
    (None, "not_equals", "de", True),
    (7, "not_equals", "de", True),
    ("Berlin-Mitte", "contains", "MITTE", True),
    ("Berlin", "contains", "x", False),
    ("100%", "contains", "0%", True),
    ("100", "contains", "%", False),
    ("a_b", "contains", "_", True),
    ("ab", "contains", "_", False),
    (MISSING, "not_contains", "x", True),
    ("box", "not_contains", "X", False),
    ("Berlin", "starts_with", "ber", True),
    ("Berlin", "starts_with", "lin", False),
    ("Berlin", "ends_with", "LIN", True),
    ("Berlin", "ends_with", "ber", False),
    ("pro", "in", ["free", "PRO"], True),
    (3, "in", ["3", 3], True),
    ("basic", "in", ["free", "pro"], False),
    (MISSING, "not_in", ["free"], True),
    ("free", "not_in", ["FREE"], False),
    (10, "greater_than", 10, False),
    (10.5, "greater_than", 10, True),
    ("11", "greater_than", 10, False),
    (True, "greater_than", 0, False),
    (MISSING, "greater_than", 0, False),
    (10, "greater_or_equal", 10, True),
    (9.99, "greater_or_equal", 10, False),
    (10, "less_than", 10, False),
    (-1, "less_than", 0, True),
    (10, "less_or_equal", 10, True),
    ("abc", "less_or_equal", 10, False),
    (5, "between", [5, 7], True),
    (7, "between", [5, 7], True),
    (7.01, "between", [5, 7], False),
    ("2026-03-01", "between", ["2026-03-01", "2026-03-31"], True),
    ("2026-03-31T23:59:00Z", "between", ["2026-03-01", "2026-03-31"], True),
    ("2026-04-01", "between", ["2026-03-01", "2026-03-31"], False),
    ("x", "is_set", None, True),
    (0, "is_set", None, True),
    (False, "is_set", None, True),
    (None, "is_set", None, False),
    (MISSING, "is_set", None, False),
    (MISSING, "is_not_set", None, True),
    (None, "is_not_set", None, True),
    ("", "is_not_set", None, False),
    (True, "is_true", None, True),
    ("true", "is_true", None, False),
    (1, "is_true", None, False),
    (False, "is_false", None, True),
    (MISSING, "is_false", None, False),
    ("2026-01-31", "before", "2026-02-01", True),
    ("2026-02-01T00:00:00Z", "before", "2026-02-01", False),
    ("not a date", "before", "2026-02-01", False),
    (20260101, "before", "2026-02-01", False),
    ("2026-02-01T23:00:00Z", "after", "2026-02-01", False),
    ("2026-02-02", "after", "2026-02-01", True),
    ("2026-06-05", "within_last_days", 10, True),
    ("2026-06-04", "within_last_days", 10, False),
    ("2026-06-04", "more_than_days_ago", 10, True),
    ("2026-06-05", "more_than_days_ago", 10, False),
    (MISSING, "more_than_days_ago", 10, False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("trait_value", "operator", "value", "expected"), TRAIT_CASES)
def test_trait_operator(trait_value, operator, value, expected):
    assert _matches(trait_value, operator, value) is expected


@pytest.fixture
def source(db):
    return Source.objects.create(name="web")


def _order(profile, source, days_ago, revenue, n=[0]):  # noqa: B006 - a counter for message ids
    n[0] += 1
    ts = NOW - dt.timedelta(days=days_ago)
    return Event.objects.create(
        source_id=source.pk,
        message_id=f"m{n[0]}",
        type="track",
        event="Order Completed",
        properties={"revenue": revenue},
        timestamp=ts,
        received_at=ts,
        profile=profile,
    )


def _event_def(operator, count, **extra):
    return {
        "match": "all",
        "conditions": [
            {
                "type": "event",
                "event": "Order Completed",
                "count": {"operator": operator, "value": count},
                **extra,
            }
        ],
    }


@pytest.mark.parametrize(
    ("operator", "count", "expected_orders"),
    [
        ("at_least", 0, {0, 1, 2, 3}),
        ("at_least", 1, {1, 2, 3}),
        ("at_least", 2, {2, 3}),
        ("at_most", 0, {0}),
        ("at_most", 1, {0, 1}),
        ("exactly", 0, {0}),
        ("exactly", 2, {2}),
    ],
)
def test_event_count_operators_including_zero(source, operator, count, expected_orders):
    by_orders = {}
    for orders in range(4):
        profile = Profile.objects.create(traits={})
        for _ in range(orders):
            _order(profile, source, 1, 50)
        by_orders[orders] = profile.pk
    got = set(segment_queryset(_event_def(operator, count), now=NOW).values_list("pk", flat=True))
    assert got == {by_orders[o] for o in expected_orders}


def test_event_window_and_property_filter(source):
    recent_big = Profile.objects.create(traits={})
    _order(recent_big, source, 10, 150)
    _order(recent_big, source, 20, 120)
    old_big = Profile.objects.create(traits={})
    _order(old_big, source, 10, 150)
    _order(old_big, source, 100, 150)
    recent_small = Profile.objects.create(traits={})
    _order(recent_small, source, 10, 150)
    _order(recent_small, source, 11, "lots")
    definition = _event_def(
        "at_least",
        2,
        window={"last_days": 90},
        where=[{"property": "revenue", "operator": "greater_than", "value": 100}],
    )
    got = set(segment_queryset(definition, now=NOW).values_list("pk", flat=True))
    assert got == {recent_big.pk}
    dated = _event_def("at_least", 1, window={"from": "2026-03-20", "to": "2026-03-25"})
    _order(recent_small, source, (NOW.date() - dt.date(2026, 3, 25)).days, 1)
    assert list(segment_queryset(dated, now=NOW).values_list("pk", flat=True)) == [recent_small.pk]


def test_consent_latest_record_decides(db):
    purpose = ConsentPurpose.objects.get(key="email_marketing")
    opted_in, opted_out, never = (Profile.objects.create(traits={}) for _ in range(3))
    ConsentRecord.objects.create(
        profile=opted_in, purpose=purpose, granted=False, recorded_at=NOW - dt.timedelta(days=5)
    )
    ConsentRecord.objects.create(profile=opted_in, purpose=purpose, granted=True, recorded_at=NOW)
    ConsentRecord.objects.create(
        profile=opted_out, purpose=purpose, granted=True, recorded_at=NOW - dt.timedelta(days=5)
    )
    ConsentRecord.objects.create(profile=opted_out, purpose=purpose, granted=False, recorded_at=NOW)
    definition = {"match": "all", "conditions": [{"type": "consent", "purpose": "email_marketing"}]}
    assert list(segment_queryset(definition, now=NOW).values_list("pk", flat=True)) == [opted_in.pk]
    negated = {
        "match": "all",
        "conditions": [{"type": "consent", "purpose": "email_marketing", "negate": True}],
    }
    assert set(segment_queryset(negated, now=NOW).values_list("pk", flat=True)) == {
        opted_out.pk,
        never.pk,
    }


def test_identifier_condition(db):
    with_email = Profile.objects.create(traits={})
    Identity.objects.create(
        kind="email", value="jane@shop.test", profile=with_email, first_seen=NOW, last_seen=NOW
    )
    Profile.objects.create(traits={})
    has = {"match": "all", "conditions": [{"type": "identifier", "kind": "email"}]}
    assert list(segment_queryset(has).values_list("pk", flat=True)) == [with_email.pk]
    domain = {
        "match": "all",
        "conditions": [
            {"type": "identifier", "kind": "email", "operator": "ends_with", "value": "@SHOP.test"}
        ],
    }
    assert list(segment_queryset(domain).values_list("pk", flat=True)) == [with_email.pk]


def test_segment_reference_nested_groups_and_negation(marketer):
    de_vip = Profile.objects.create(traits={"country": "DE", "vip": True})
    de = Profile.objects.create(traits={"country": "DE"})
    fr = Profile.objects.create(traits={"country": "FR", "plan": "pro"})
    Profile.objects.create(traits={"country": "US"})
    vip = Segment.objects.create(
        name="VIP",
        owner=marketer,
        definition={
            "match": "all",
            "conditions": [{"type": "trait", "trait": "vip", "operator": "is_true"}],
        },
    )
    definition = {
        "match": "all",
        "conditions": [
            {
                "type": "group",
                "match": "any",
                "conditions": [
                    {"type": "trait", "trait": "country", "operator": "equals", "value": "DE"},
                    {"type": "trait", "trait": "plan", "operator": "equals", "value": "pro"},
                ],
            },
            {"type": "segment", "segment": vip.pk, "negate": True},
        ],
    }
    assert set(segment_queryset(definition).values_list("pk", flat=True)) == {de.pk, fr.pk}
    assert de_vip.pk not in set(segment_queryset(definition).values_list("pk", flat=True))
    why = explain(definition, de_vip.pk)
    assert [(c.label, c.met) for c in why.children] == [
        ("any of these", True),
        ("NOT is in segment “VIP”", False),
    ]


def test_empty_groups_and_merged_profiles(db):
    alive = Profile.objects.create(traits={})
    Profile.objects.create(traits={}, merged_into=alive)
    assert list(
        segment_queryset({"match": "all", "conditions": []}).values_list("pk", flat=True)
    ) == [alive.pk]
    assert not segment_queryset({"match": "any", "conditions": []}).exists()
    negated_empty = {"match": "all", "negate": True, "conditions": []}
    assert not segment_queryset(negated_empty).exists()


def test_explain_says_which_conditions_are_met(source):
    profile = Profile.objects.create(traits={"country": "DE", "lifetime_value": 120})
    _order(profile, source, 3, 80)
    definition = {
        "match": "any",
        "conditions": [
            {"type": "trait", "trait": "country", "operator": "equals", "value": "DE"},
            {
                "type": "group",
                "match": "all",
                "conditions": [
                    {
                        "type": "trait",
                        "trait": "lifetime_value",
                        "operator": "greater_than",
                        "value": 200,
                    },
                    {
                        "type": "event",
                        "event": "Order Completed",
                        "count": {"operator": "at_least", "value": 1},
                    },
                ],
            },
        ],
    }
    why = explain(definition, profile.pk, now=NOW)
    assert why.met is True
    assert [(c.label, c.met) for c in why.children] == [
        ("country is DE", True),
        ("all of these", False),
    ]
    assert [(c.label, c.met) for c in why.children[1].children] == [
        ("lifetime_value > 200", False),
        ("did Order Completed at least 1 time ever", True),
    ]


def test_any_of_several_event_and_consent_sets_is_one_union(source):
    purpose = ConsentPurpose.objects.get(key="email_marketing")
    opened, viewer, consented, none = (Profile.objects.create(traits={}) for _ in range(4))
    for n, (profile, name) in enumerate(
        [
            (opened, "Email Opened"),
            (viewer, "Product Viewed"),
            (viewer, "Product Viewed"),
            (none, "Product Viewed"),
        ]
    ):
        ts = NOW - dt.timedelta(days=1)
        Event.objects.create(
            source_id=source.pk,
            message_id=f"u{n}",
            type="track",
            event=name,
            timestamp=ts,
            received_at=ts,
            profile=profile,
        )
    ConsentRecord.objects.create(profile=consented, purpose=purpose, granted=True, recorded_at=NOW)
    definition = {
        "match": "any",
        "conditions": [
            {"type": "event", "event": "Email Opened"},
            {
                "type": "event",
                "event": "Product Viewed",
                "count": {"operator": "at_least", "value": 2},
            },
            {"type": "consent", "purpose": "email_marketing"},
        ],
    }
    queryset = segment_queryset(definition, now=NOW)
    assert "UNION ALL" in str(queryset.query)
    assert set(queryset.values_list("pk", flat=True)) == {opened.pk, viewer.pk, consented.pk}
    negated = {**definition, "negate": True}
    assert set(segment_queryset(negated, now=NOW).values_list("pk", flat=True)) == {none.pk}


@pytest.mark.parametrize(
    ("operator", "count", "negate", "expected"),
    [
        ("at_least", 1, False, {"merged"}),
        ("at_least", 1, True, {"alone"}),
        ("at_least", 3, False, {"merged"}),
        ("at_least", 4, False, set()),
        ("exactly", 3, False, {"merged"}),
        ("at_most", 2, False, {"alone"}),
    ],
)
def test_events_of_merged_away_profiles_count_for_the_live_one(
    source, operator, count, negate, expected
):
    # A merge leaves events under the profile they were stored under: two profiles merged into
    # `merged` (one through the other) hold two of its three orders.
    merged = Profile.objects.create(traits={})
    middle = Profile.objects.create(traits={}, merged_into=merged)
    first = Profile.objects.create(traits={}, merged_into=middle)
    ProfileLink.objects.create(profile=middle, live=merged)
    ProfileLink.objects.create(profile=first, live=merged)
    for profile in (merged, middle, first):
        _order(profile, source, 1, 50)
    alone = Profile.objects.create(traits={})
    names = {merged.pk: "merged", alone.pk: "alone"}
    definition = _event_def(operator, count)
    definition["conditions"][0]["negate"] = negate
    got = {names[pk] for pk in segment_queryset(definition, now=NOW).values_list("pk", flat=True)}
    assert got == expected
    among = segment_queryset(definition, now=NOW, profile_ids=[merged.pk, alone.pk])
    assert {names[pk] for pk in among.values_list("pk", flat=True)} == expected
    assert explain(definition, merged.pk, now=NOW).met is ("merged" in expected)


def _trait_ids(trait: str, operator: str, value=None) -> set[int]:
    definition = {
        "match": "all",
        "conditions": [{"type": "trait", "trait": trait, "operator": operator, "value": value}],
    }
    return set(segment_queryset(definition, now=NOW).values_list("pk", flat=True))


def test_dotted_paths_reach_into_nested_traits(db):
    nested_us = Profile.objects.create(traits={"address": {"country": "US", "city": "Austin"}})
    nested_de = Profile.objects.create(traits={"address": {"country": "DE"}})
    flat_us = Profile.objects.create(traits={"country": "US"})
    literal = Profile.objects.create(traits={"address.country": "US", "address": {"country": "FR"}})
    not_an_object = Profile.objects.create(traits={"address": "1 Main St, US"})
    null_country = Profile.objects.create(traits={"address": {"country": None}})
    deep = Profile.objects.create(traits={"company": {"hq": {"employees": 250}}})
    listed = Profile.objects.create(traits={"address": [{"country": "US"}]})

    assert _trait_ids("address.country", "equals", "us") == {nested_us.pk, literal.pk}
    assert _trait_ids("address.country", "is_set") == {nested_us.pk, nested_de.pk, literal.pk}
    assert _trait_ids("address.country", "is_not_set") == {
        flat_us.pk,
        not_an_object.pk,
        null_country.pk,
        deep.pk,
        listed.pk,
    }
    # A plain key stays a plain key: the flat trait only.
    assert _trait_ids("country", "equals", "US") == {flat_us.pk}
    assert _trait_ids("company.hq.employees", "greater_than", 200) == {deep.pk}
    assert _trait_ids("address.city", "starts_with", "aus") == {nested_us.pk}


def test_dotted_paths_in_event_properties_and_in_the_explanation(source):
    profile = Profile.objects.create(traits={"address": {"country": "US"}})
    Event.objects.create(
        source_id=source.pk,
        message_id="nested-1",
        type="track",
        event="Order Completed",
        properties={"shipping": {"method": "express"}, "revenue": 20},
        timestamp=NOW - dt.timedelta(days=1),
        received_at=NOW,
        profile=profile,
    )
    definition = {
        "match": "all",
        "conditions": [
            {"type": "trait", "trait": "address.country", "operator": "equals", "value": "US"},
            {
                "type": "event",
                "event": "Order Completed",
                "count": {"operator": "at_least", "value": 1},
                "where": [
                    {"property": "shipping.method", "operator": "equals", "value": "express"}
                ],
            },
        ],
    }
    assert list(segment_queryset(definition, now=NOW).values_list("pk", flat=True)) == [profile.pk]
    why = explain(definition, profile.pk, now=NOW)
    assert [(c.label, c.met) for c in why.children] == [
        ("address.country is US", True),
        ("did Order Completed at least 1 time ever where shipping.method is express", True),
    ]
    assert why.met is True
