"""RFM scores and groups: quintile boundaries, ties, revenue that is not a number, the keys of
other writers left alone, and customers who no longer qualify."""

import datetime as dt

import pytest
from django.utils import timezone

from profiles.models import Profile, ProfileComputed, ProfileLink, ScoreRun
from profiles.scores.rfm import GROUP_OF, GROUPS, rfm_recompute

from .scores_data import orders

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def _values(profile):
    return ProfileComputed.objects.get(profile=profile).values


def test_every_cell_of_the_grid_has_a_named_group():
    assert set(GROUP_OF) == {(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert set(GROUP_OF.values()) == set(GROUPS)
    assert GROUP_OF[(5, 5)] == "Champions"
    assert GROUP_OF[(1, 1)] == "Lost"
    assert GROUP_OF[(1, 5)] == "Cannot lose them"
    assert GROUP_OF[(5, 1)] == "New customers"


def test_ten_customers_fall_two_to_each_quintile():
    profiles = [Profile.objects.create() for _ in range(10)]
    for i, profile in enumerate(profiles):
        # Customer i: i + 1 orders, the last one 100 - 10 i days ago, 5 (i + 1) each.
        times = [NOW - dt.timedelta(days=100 - 10 * i + k) for k in range(i + 1)]
        orders(profile, times, revenue=5 * (i + 1))
    run = rfm_recompute(now=NOW)
    assert run.status == ScoreRun.Status.DONE
    assert run.scored == 10
    scores = [_values(p) for p in profiles]
    assert [s["rfm_recency"] for s in scores] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [s["rfm_frequency"] for s in scores] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [s["rfm_monetary"] for s in scores] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores[9]["rfm_group"] == "Champions"
    assert scores[0]["rfm_group"] == "Lost"
    assert run.details["groups"]["Champions"] == 2
    assert sum(run.details["groups"].values()) == 10


def test_tied_customers_share_the_lowest_quintile_any_of_them_reached():
    profiles = [Profile.objects.create() for _ in range(10)]
    for i, profile in enumerate(profiles):
        # Six customers with one order each, four with three; all on the same day.
        count = 1 if i < 6 else 3
        orders(profile, [NOW - dt.timedelta(days=3, hours=k) for k in range(count)], revenue=7)
    rfm_recompute(now=NOW)
    frequency = [_values(p)["rfm_frequency"] for p in profiles]
    # NTILE puts the one-order customers in quintiles 1 to 3: all of them get 1.
    assert frequency == [1] * 6 + [4] * 4
    # Same revenue per order: monetary ties the same way as frequency.
    assert [_values(p)["rfm_monetary"] for p in profiles] == [1] * 6 + [4] * 4
    # Their last orders are all at the same time: one recency score for all.
    assert {_values(p)["rfm_recency"] for p in profiles} == {1}
    # And the answer does not depend on the order of the profile ids.
    rfm_recompute(now=NOW)
    assert [_values(p)["rfm_frequency"] for p in profiles] == frequency


def test_revenue_that_is_not_a_number_counts_as_an_order_without_revenue():
    cheap, texty, rich = (Profile.objects.create() for _ in range(3))
    orders(cheap, [NOW - dt.timedelta(days=1)], revenue=1)
    orders(texty, [NOW - dt.timedelta(days=1)], revenue="lots")
    orders(texty, [NOW - dt.timedelta(days=2)], revenue=None)
    orders(rich, [NOW - dt.timedelta(days=1)], revenue=1000.5)
    rfm_recompute(now=NOW)
    assert _values(texty)["rfm_monetary"] < _values(cheap)["rfm_monetary"]
    assert _values(cheap)["rfm_monetary"] < _values(rich)["rfm_monetary"]
    assert _values(texty)["rfm_frequency"] > _values(cheap)["rfm_frequency"]


def test_other_keys_stay_and_people_who_never_ordered_get_no_scores():
    buyer, browser = Profile.objects.create(), Profile.objects.create()
    orders(buyer, [NOW - dt.timedelta(days=1)])
    orders(browser, [NOW - dt.timedelta(days=1)], event="Product Viewed")
    ProfileComputed.objects.create(profile=buyer, values={"order_count": 1, "rfm_group": "old"})
    ProfileComputed.objects.create(profile=browser, values={"last_seen_at": "x", "rfm_recency": 2})
    rfm_recompute(now=NOW)
    assert _values(buyer)["order_count"] == 1
    assert _values(buyer)["rfm_group"] in GROUPS
    assert _values(browser) == {"last_seen_at": "x"}


def test_orders_after_the_run_time_and_of_merged_profiles_count_as_the_live_ones():
    live, loser, future = (Profile.objects.create() for _ in range(3))
    loser.merged_into = live
    loser.save()
    ProfileLink.objects.create(profile=loser, live=live)
    orders(live, [NOW - dt.timedelta(days=5)])
    orders(loser, [NOW - dt.timedelta(days=6), NOW - dt.timedelta(days=7)])
    orders(future, [NOW + dt.timedelta(days=1)])
    run = rfm_recompute(now=NOW)
    assert run.scored == 1
    assert not ProfileComputed.objects.filter(profile__in=[loser, future]).exists()
    assert set(_values(live)) == {"rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_group"}


def test_no_customers_is_a_run_with_no_one_scored():
    run = rfm_recompute(now=timezone.now())
    assert run.status == ScoreRun.Status.DONE
    assert run.scored == 0
    assert ProfileComputed.objects.count() == 0


def test_the_scheduled_task_run_twice_writes_the_same_scores():
    from profiles.tasks import rfm_recompute_task

    profiles = [Profile.objects.create() for _ in range(5)]
    now = timezone.now()
    for i, profile in enumerate(profiles):
        orders(profile, [now - dt.timedelta(days=i + 1)], revenue=i)
    assert rfm_recompute_task() == 5
    first = {c.profile_id: c.values for c in ProfileComputed.objects.all()}
    assert rfm_recompute_task() == 5
    assert {c.profile_id: c.values for c in ProfileComputed.objects.all()} == first
    assert ScoreRun.objects.filter(kind=ScoreRun.Kind.RFM, status=ScoreRun.Status.DONE).count() == 2
