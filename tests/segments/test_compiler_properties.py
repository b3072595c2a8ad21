"""Property-based: the compiler agrees with the reference evaluator on random definitions and data.

Runs on whichever database the suite uses (SQLite by default, PostgreSQL with DATABASE_URL). On
PostgreSQL every definition is answered twice, from the raw events and from the event
aggregates, and both must give the reference's members: event times fall at any hour, so
windows start inside days as well as at their edges.
"""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.models import ConsentPurpose, ConsentRecord
from integrations.models import Source
from profiles.aggregates import aggregates_built, aggregates_rebuild, aggregates_supported
from profiles.models import Event, Identity, Profile, ProfileComputed
from segments.compiler import segment_queryset
from tests.segments import reference

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

texts = st.sampled_from(["de", "DE", "fr", "Berlin", "berlin-mitte", "x_y", "a%b", "", "pro"])
# Few distinct numbers, so that equal values (the edge of every comparison) come up often.
numbers = st.sampled_from([-1.5, 0, 0.5, 2, 2.25, 10, 10.0, 42])
dates = st.dates(TODAY - dt.timedelta(days=400), TODAY + dt.timedelta(days=30)).map(
    lambda d: d.isoformat()
)
datetimes_text = dates.map(lambda d: d + "T08:30:00Z")
json_values = st.one_of(
    texts, numbers, st.booleans(), st.none(), dates, datetimes_text, st.just([1, 2])
)
KEYS = ["a", "b", "d"]
# Dotted paths into nested objects ("n.c"), and a key that holds the dots itself ("n.e"), which
# is read before the path.
NESTED_KEYS = ["n.c", "n.e", "n.e.c"]
nested_objects = st.dictionaries(
    st.sampled_from(["c", "e"]),
    st.one_of(json_values, st.dictionaries(st.just("c"), json_values, max_size=1)),
    max_size=2,
)
trait_values = st.one_of(json_values, nested_objects)
EDGE_DAYS = [0, 1, 2, 6, 7, 29, 30]


def value_tests(key_strategy):
    text_ops = st.tuples(
        st.sampled_from(
            ["equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with"]
        ),
        st.sampled_from(["de", "ber", "X_", "a%", "pro", "2026-0"]),
    )
    number_ops = st.tuples(
        st.sampled_from(
            [
                "greater_than",
                "greater_or_equal",
                "less_than",
                "less_or_equal",
                "equals",
                "not_equals",
            ]
        ),
        numbers,
    )
    list_ops = st.tuples(
        st.sampled_from(["in", "not_in"]),
        st.lists(st.one_of(texts.filter(bool), numbers), min_size=1, max_size=3),
    )
    between = st.one_of(
        st.tuples(st.just("between"), st.tuples(numbers, numbers).map(lambda t: sorted(t))),
        st.tuples(st.just("between"), st.tuples(dates, dates).map(lambda t: sorted(t))),
    )
    flag_ops = st.tuples(
        st.sampled_from(["is_set", "is_not_set", "is_true", "is_false"]), st.none()
    )
    date_ops = st.one_of(
        st.tuples(st.sampled_from(["before", "after"]), dates),
        st.tuples(st.sampled_from(["within_last_days", "more_than_days_ago"]), st.integers(0, 400)),
    )
    return st.tuples(
        key_strategy, st.one_of(text_ops, number_ops, list_ops, between, flag_ops, date_ops)
    )


def trait_conditions():
    return value_tests(st.sampled_from(KEYS + NESTED_KEYS)).map(
        lambda t: {"type": "trait", "trait": t[0], "operator": t[1][0], "value": t[1][1]}
    )


def computed_conditions():
    return value_tests(st.sampled_from(KEYS)).map(
        lambda t: {"type": "computed", "trait": t[0], "operator": t[1][0], "value": t[1][1]}
    )


def event_conditions():
    window = st.one_of(
        st.none(),
        st.one_of(st.integers(1, 300), st.sampled_from(EDGE_DAYS[1:])).map(
            lambda n: {"last_days": n}
        ),
        st.tuples(dates, dates).map(lambda t: {"from": min(t), "to": max(t)}),
    )
    where = st.lists(
        value_tests(st.sampled_from(["v", "w", "o.v"])).map(
            lambda t: {"property": t[0], "operator": t[1][0], "value": t[1][1]}
        ),
        max_size=2,
    )
    count = st.tuples(st.sampled_from(["at_least", "at_most", "exactly"]), st.integers(0, 3))
    return st.tuples(st.sampled_from(["X", "Y"]), count, window, where).map(
        lambda t: {
            "type": "event",
            "event": t[0],
            "count": {"operator": t[1][0], "value": t[1][1]},
            **({"window": t[2]} if t[2] else {}),
            "where": t[3],
        }
    )


leaves = st.one_of(
    trait_conditions(),
    computed_conditions(),
    event_conditions(),
    event_conditions().map(lambda node: {**node, "where": []}),
    st.sampled_from(["email_marketing", "advertising"]).map(
        lambda p: {"type": "consent", "purpose": p}
    ),
    st.sampled_from(["email", "user_id"]).map(lambda k: {"type": "identifier", "kind": k}),
    st.just({"type": "identifier", "kind": "email", "operator": "ends_with", "value": "B.test"}),
    st.just({"type": "segment", "segment": 1}),
)


def with_negate(strategy):
    return st.tuples(strategy, st.booleans()).map(lambda t: {**t[0], "negate": t[1]})


conditions = st.recursive(
    with_negate(leaves),
    lambda children: with_negate(
        st.tuples(st.sampled_from(["all", "any"]), st.lists(children, max_size=3)).map(
            lambda t: {"type": "group", "match": t[0], "conditions": t[1]}
        )
    ),
    max_leaves=6,
)
definitions = st.tuples(
    st.sampled_from(["all", "any"]), st.booleans(), st.lists(conditions, max_size=4)
).map(lambda t: {"match": t[0], "negate": t[1], "conditions": t[2]})

profile_data = st.fixed_dictionaries(
    {
        "traits": st.dictionaries(st.sampled_from([*KEYS, "n", "n.e"]), trait_values, max_size=3),
        "computed": st.one_of(
            st.none(), st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3)
        ),
        "events": st.lists(
            st.fixed_dictionaries(
                {
                    "event": st.sampled_from(["X", "Y"]),
                    # Often on the first day of a window, where the aggregates need care.
                    "days_ago": st.one_of(st.integers(0, 400), st.sampled_from(EDGE_DAYS)),
                    "hours": st.integers(0, 23),
                    "properties": st.dictionaries(
                        st.sampled_from(["v", "w", "o"]),
                        st.one_of(
                            json_values, st.dictionaries(st.just("v"), json_values, max_size=1)
                        ),
                        max_size=2,
                    ),
                }
            ),
            max_size=4,
        ),
        "consent": st.lists(
            st.tuples(
                st.sampled_from(["email_marketing", "advertising"]),
                st.booleans(),
                st.integers(0, 3),
            ),
            max_size=3,
        ),
        "identities": st.sets(st.sampled_from(["email", "user_id"]), max_size=2),
        "merge": st.integers(0, 9),
    }
)
SUB_SEGMENT = {
    "match": "any",
    "conditions": [
        {"type": "trait", "trait": "a", "operator": "is_set"},
        {"type": "event", "event": "Y", "count": {"operator": "at_least", "value": 2}},
    ],
}


def _store(raw_profiles, source):
    purposes = {p.key: p for p in ConsentPurpose.objects.all()}
    plain = []
    first = None
    for index, raw in enumerate(raw_profiles):
        merged = raw["merge"] == 0 and first is not None
        profile = Profile.objects.create(
            traits=raw["traits"], merged_into=first if merged else None
        )
        first = first or profile
        if raw["computed"] is not None:
            ProfileComputed.objects.create(profile=profile, values=raw["computed"])
        item = {
            "id": profile.pk,
            "traits": raw["traits"],
            "computed": raw["computed"] or {},
            "merged": merged,
            "events": [],
            "consent": [],
            "identities": [],
        }
        for n, e in enumerate(raw["events"]):
            ts = NOW - dt.timedelta(days=e["days_ago"], hours=e["hours"], minutes=n)
            Event.objects.create(
                source_id=source.pk,
                message_id=f"{profile.pk}-{n}",
                type="track",
                event=e["event"],
                properties=e["properties"],
                timestamp=ts,
                received_at=ts,
                profile=profile,
            )
            item["events"].append(
                {"event": e["event"], "timestamp": ts, "properties": e["properties"]}
            )
        for purpose, granted, days in raw["consent"]:
            at = NOW - dt.timedelta(days=days)
            record = ConsentRecord.objects.create(
                profile=profile, purpose=purposes[purpose], granted=granted, recorded_at=at
            )
            item["consent"].append(
                {"purpose": purpose, "granted": granted, "recorded_at": at, "id": record.pk}
            )
        for kind in sorted(raw["identities"]):
            value = f"{kind}{index}@{'b.test' if index % 2 else 'c.test'}"
            Identity.objects.create(
                kind=kind, value=value, profile=profile, first_seen=NOW, last_seen=NOW
            )
            item["identities"].append({"kind": kind, "value": value})
        plain.append(item)
    return plain


@pytest.mark.django_db
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw_profiles=st.lists(profile_data, min_size=1, max_size=6), definition=definitions)
def test_compiler_matches_reference_evaluator(raw_profiles, definition):
    with transaction.atomic():
        source = Source.objects.create(name="test source")
        plain = _store(raw_profiles, source)
        segments = {1: SUB_SEGMENT}
        expected = reference.members(plain, definition, NOW, segments)
        subset = [p["id"] for p in plain[::2]]
        assert not aggregates_built()
        # From raw events; then, where the database keeps them, from the event aggregates.
        for from_aggregates in (False, True) if aggregates_supported() else (False,):
            if from_aggregates:
                aggregates_rebuild()
            compiled = segment_queryset(definition, now=NOW, segment_lookup=segments.get)
            assert set(compiled.values_list("pk", flat=True)) == expected
            # Restricted to a subset of profiles, it answers for just those.
            restricted = segment_queryset(
                definition, now=NOW, segment_lookup=segments.get, profile_ids=subset
            )
            assert set(restricted.values_list("pk", flat=True)) == expected & set(subset)
        transaction.set_rollback(True)
