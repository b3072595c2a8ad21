"""Property-based: funnel and path answers from the database agree with the plain-Python
reference on random events, steps, filters, windows and segments.

Runs on whichever database the suite uses (SQLite by default, PostgreSQL with DATABASE_URL).
"""

import datetime as dt
import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.models import Event, Profile, ProfileLink
from segments.journeys.reference import Ev, funnel_answer, path_answer
from segments.journeys.spec import Funnel, Path, Period, Step
from segments.journeys.sql import funnel_run, path_run
from segments.models import Segment, SegmentMembership

pytestmark = pytest.mark.django_db(transaction=False)

START = dt.date(2026, 5, 10)
PERIOD = Period(START, START + dt.timedelta(days=3))
BASE = dt.datetime.combine(START, dt.time.min, tzinfo=dt.UTC)
NAMES = ["A", "B", "C"]
_ids = itertools.count(1)

# Times from a day before the period to a few days after it, on a coarse grid so that ties
# (two events at the same instant) and window edges come up often.
offsets = st.integers(-24, 24 * 7).map(lambda h: dt.timedelta(hours=h))
properties = st.fixed_dictionaries(
    {}, optional={"plan": st.sampled_from(["pro", "PRO", "free", 5, None])}
)
event_data = st.tuples(st.sampled_from(NAMES), offsets, properties)
people = st.lists(st.lists(event_data, max_size=10), min_size=1, max_size=6)
filters = st.one_of(
    st.just(()),
    st.sampled_from(
        [
            ({"property": "plan", "operator": "equals", "value": "pro"},),
            ({"property": "plan", "operator": "not_equals", "value": "free"},),
            ({"property": "plan", "operator": "equals", "value": 5},),
            ({"property": "plan", "operator": "is_set"},),
        ]
    ),
)
steps = st.lists(
    st.tuples(st.sampled_from(NAMES), filters).map(lambda t: Step(t[0], t[1])),
    min_size=2,
    max_size=4,
)


def _store(raw_people, *, link_last: bool) -> tuple[list[Ev], list[Profile]]:
    profiles = [Profile.objects.create() for _ in raw_people]
    rows, plain = [], []
    for profile, own in zip(profiles, raw_people, strict=True):
        for name, offset, props in own:
            at = BASE + offset
            rows.append(
                Event(
                    source_id=1,
                    message_id=f"j-{next(_ids)}",
                    type="track",
                    event=name,
                    properties=props,
                    timestamp=at,
                    received_at=at,
                    profile=profile,
                )
            )
    stored = Event.objects.bulk_create(rows)
    owner = {profile.pk: profile.pk for profile in profiles}
    if link_last and len(profiles) >= 2:
        # The last person was merged into the first; their events have not moved yet.
        loser, live = profiles[-1], profiles[0]
        Profile.objects.filter(pk=loser.pk).update(merged_into=live)
        ProfileLink.objects.create(profile=loser, live=live)
        owner[loser.pk] = live.pk
    for event in stored:
        plain.append(
            Ev(owner[event.profile_id], event.timestamp, event.event, event.pk, event.properties)
        )
    return plain, profiles


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw_people=people,
    funnel_steps=steps,
    window=st.integers(1, 3),
    link_last=st.booleans(),
    with_segment=st.booleans(),
)
def test_funnel_matches_reference(raw_people, funnel_steps, window, link_last, with_segment):
    with transaction.atomic():
        plain, profiles = _store(raw_people, link_last=link_last)
        members = None
        segment_id = None
        if with_segment:
            segment = Segment.objects.create(name="some")
            members = {p.pk for p in profiles[::2]}
            SegmentMembership.objects.bulk_create(
                [
                    SegmentMembership(segment=segment, profile_id=pid, entered_at=BASE)
                    for pid in members
                ]
            )
            segment_id = segment.pk
        funnel = Funnel(tuple(funnel_steps), PERIOD, window, segment_id)
        got = funnel_run(funnel)
        expected = funnel_answer(plain, funnel, members)
        assert [r["reached"] for r in got] == [r["reached"] for r in expected]
        for mine, theirs in zip(got, expected, strict=True):
            if theirs["median_seconds"] is None:
                assert mine["median_seconds"] is None
            else:
                assert mine["median_seconds"] == pytest.approx(theirs["median_seconds"], abs=1)
        transaction.set_rollback(True)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw_people=people,
    event=st.sampled_from(NAMES),
    direction=st.sampled_from(["next", "previous"]),
    depth=st.integers(1, 3),
    link_last=st.booleans(),
)
def test_paths_match_reference(raw_people, event, direction, depth, link_last):
    with transaction.atomic():
        plain, _profiles = _store(raw_people, link_last=link_last)
        path = Path(event, PERIOD, direction, depth, None, top=2)
        assert path_run(path) == path_answer(plain, path)
        transaction.set_rollback(True)
