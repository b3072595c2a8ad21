"""The churn model: it beats the recency baseline on data with planted churn, says it does not on
data without signal (and writes no scores then), and leaves other keys alone."""

import datetime as dt
import random

import pytest

from profiles.models import Profile, ProfileComputed, ScoreRun
from profiles.scores.churn import KEY, churn_train, features_as_of

from .scores_data import orders

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
CUTOFF = NOW - dt.timedelta(days=90)


def _customers(count: int, *, planted: bool, seed: int = 7) -> list[Profile]:
    """Customers whose last order before the cutoff is random. With `planted`, those who browsed
    little in the 30 days before the cutoff mostly stop buying and the others mostly buy again:
    a signal recency alone cannot see. Without it, who buys again is a coin toss."""
    rng = random.Random(seed)
    profiles = []
    for _ in range(count):
        profile = Profile.objects.create()
        profiles.append(profile)
        first = CUTOFF - dt.timedelta(days=rng.uniform(150, 400))
        last = CUTOFF - dt.timedelta(days=rng.uniform(1, 120))
        extra = [first + (last - first) * rng.random() for _ in range(rng.randint(0, 4))]
        orders(profile, [first, last, *extra], revenue=rng.choice([10, 25, 80]))
        views = rng.randint(0, 10)
        orders(
            profile,
            [CUTOFF - dt.timedelta(days=rng.uniform(0.1, 29)) for _ in range(views)],
            revenue=None,
            event="Product Viewed",
        )
        churns = rng.random() < (0.9 if views < 4 else 0.15) if planted else rng.random() < 0.5
        if not churns:
            orders(profile, [CUTOFF + dt.timedelta(days=rng.uniform(1, 89))])
    return profiles


def test_features_are_counted_as_of_the_time_asked():
    profile = Profile.objects.create()
    orders(profile, [CUTOFF - dt.timedelta(days=10), CUTOFF - dt.timedelta(days=100)], revenue=5)
    orders(profile, [CUTOFF - dt.timedelta(days=2)], revenue=None, event="Page Viewed")
    orders(profile, [CUTOFF + dt.timedelta(days=1)], revenue=99)
    features = features_as_of(CUTOFF)
    assert features.ids.tolist() == [profile.pk]
    assert features.matrix[0].round(3).tolist() == [10.0, 2.0, 10.0, 100.0, 1.0, 2.0, 2.0]


def test_planted_churn_is_found_and_beats_the_recency_baseline():
    profiles = _customers(500, planted=True)
    ProfileComputed.objects.create(profile=profiles[0], values={"order_count": 3})
    run = churn_train(now=NOW)
    details = run.details
    assert run.status == ScoreRun.Status.DONE
    assert details["offered"] is True, details["verdict"]
    assert details["auc"] > details["baseline_auc"] + 0.1
    assert details["auc_gain_interval"][0] > 0
    assert len(details["calibration"]["predicted"]) >= 5
    assert "beats the recency baseline" in details["verdict"]
    assert run.scored == 500
    values = ProfileComputed.objects.get(profile=profiles[0]).values
    assert values["order_count"] == 3
    assert 0 <= values[KEY] <= 1
    assert ProfileComputed.objects.filter(values__has_key=KEY).count() == 500


def test_data_without_signal_is_reported_and_its_scores_are_not_offered():
    profiles = _customers(500, planted=False)
    ProfileComputed.objects.create(profile=profiles[0], values={KEY: 0.5, "order_count": 2})
    run = churn_train(now=NOW)
    assert run.details["offered"] is False
    assert "does not beat the recency baseline" in run.details["verdict"]
    assert run.scored == 0
    assert not ProfileComputed.objects.filter(values__has_key=KEY).exists()
    assert ProfileComputed.objects.get(profile=profiles[0]).values == {"order_count": 2}


def test_too_little_history_says_so():
    _customers(20, planted=True)
    run = churn_train(now=NOW)
    assert run.details["offered"] is False
    assert run.details["verdict"].startswith("Not enough history")
    assert "auc" not in run.details


def test_the_scheduled_task_run_twice_answers_alike():
    from profiles.tasks import churn_train_task

    _customers(20, planted=True)
    assert churn_train_task() == 0
    assert churn_train_task() == 0
    runs = ScoreRun.objects.filter(kind=ScoreRun.Kind.CHURN)
    assert [run.details["offered"] for run in runs] == [False, False]
    assert not ProfileComputed.objects.filter(values__has_key=KEY).exists()
