"""The scores pages and the customer 360's scores fragment: what each shows, and that a churn
score never appears without the measured quality of an offered model."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from compliance.models import AuditEvent
from profiles.models import Profile, ProfileComputed, ScoreRun
from profiles.scores.rfm import rfm_recompute

from .scores_data import orders

pytestmark = pytest.mark.django_db


def _churn_run(*, offered: bool) -> ScoreRun:
    details = {
        "horizon_days": 90,
        "cutoff": "2026-03-01T00:00:00+00:00",
        "customers": 600,
        "churned_share": 0.4,
        "train": 420,
        "held_out": 180,
        "auc": 0.81 if offered else 0.52,
        "baseline_auc": 0.55,
        "auc_gain_interval": [0.2, 0.3] if offered else [-0.05, 0.04],
        "calibration": {"predicted": [0.1, 0.5, 0.9], "observed": [0.12, 0.45, 0.85]},
        "baseline_calibration": {"predicted": [0.3, 0.4], "observed": [0.35, 0.42]},
        "coefficients": {"recency_days": 0.1, "events_last_30_days": -1.2},
        "offered": offered,
        "verdict": "The model beats the recency baseline."
        if offered
        else "The model does not beat the recency baseline.",
        "training_ms": 321,
        "distribution": [5, 4, 3, 2, 1, 0, 0, 0, 0, 1],
    }
    now = timezone.now()
    return ScoreRun.objects.create(
        kind=ScoreRun.Kind.CHURN,
        status=ScoreRun.Status.DONE,
        started_at=now,
        finished_at=now,
        duration_ms=400,
        scored=16 if offered else 0,
        details=details,
    )


def _figure(html: str, script_id: str) -> dict:
    match = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no {script_id} in the page"
    return json.loads(match.group(1))


def test_rfm_page_before_any_run_says_when_it_will_be_computed(client_for, marketer):
    html = client_for(marketer).get("/scores/rfm/").content.decode()
    assert "Not computed yet" in html
    assert "rfm-grid-data" not in html


def test_rfm_page_shows_the_grid_and_a_segment_form_per_group(client_for, marketer):
    now = timezone.now()
    for i in range(10):
        times = [now - dt.timedelta(days=10 * i + k) for k in range(i + 1)]
        orders(Profile.objects.create(), times)
    rfm_recompute(now=now)
    html = client_for(marketer).get("/scores/rfm/").content.decode()
    grid = _figure(html, "rfm-grid-data")
    assert sum(sum(row) for row in grid["data"][0]["z"]) == 10
    assert grid["layout"]["meta"] == {"click": "form"}
    assert html.count('action="/segments/from-rfm-group/"') == 11
    assert 'data-click-key="Champions"' in html
    assert "10 customers" in html
    # No inline script or style (the page's CSP forbids them).
    assert "<script>" not in html
    assert 'style="' not in html


def test_churn_page_shows_quality_calibration_and_the_verdict(client_for, marketer):
    _churn_run(offered=True)
    html = client_for(marketer).get("/scores/churn/").content.decode()
    assert "0.810" in html
    assert "0.550" in html
    assert "beats the recency baseline" in html
    calibration = _figure(html, "churn-calibration-data")
    assert [trace["name"] for trace in calibration["data"]] == [
        "model",
        "recency baseline",
        "perfect",
    ]
    assert "churn-distribution-data" in html


def test_churn_page_of_a_model_not_offered_says_so_and_shows_no_scores(client_for, marketer):
    _churn_run(offered=False)
    html = client_for(marketer).get("/scores/churn/").content.decode()
    assert "does not beat the recency baseline" in html
    assert "No churn scores are shown" in html
    assert "churn-distribution-data" not in html


def test_score_fragment_explains_each_score_and_is_audited(client_for, support_agent):
    profile = Profile.objects.create()
    ProfileComputed.objects.create(
        profile=profile,
        values={
            "rfm_recency": 5,
            "rfm_frequency": 4,
            "rfm_monetary": 3,
            "rfm_group": "Champions",
            "churn_probability": 0.237,
        },
        computed_at=timezone.now(),
    )
    _churn_run(offered=True)
    html = client_for(support_agent).get(f"/customers/{profile.pk}/scores/").content.decode()
    assert "Champions" in html
    assert "Bought recently and often." in html
    assert "24% churn risk" in html
    assert "ROC AUC 0.81" in html
    assert AuditEvent.objects.filter(
        profile_id=profile.pk, detail__fragment="scores", username=support_agent.username
    ).exists()


def test_score_fragment_hides_churn_while_no_model_is_offered(client_for, marketer):
    profile = Profile.objects.create()
    ProfileComputed.objects.create(profile=profile, values={"churn_probability": 0.9})
    _churn_run(offered=False)
    html = client_for(marketer).get(f"/customers/{profile.pk}/scores/").content.decode()
    assert "churn risk" not in html
    assert "No RFM scores" in html


def test_customer_page_loads_the_scores_fragment(client_for, support_agent):
    profile = Profile.objects.create()
    html = client_for(support_agent).get(f"/customers/{profile.pk}/").content.decode()
    assert f'hx-get="/customers/{profile.pk}/scores/"' in html


def test_recompute_queues_the_job_and_comes_back(client_for, marketer, monkeypatch):
    from profiles import score_views

    queued = []
    monkeypatch.setattr(score_views, "task_publish", lambda task: queued.append(task.name) or 1)
    response = client_for(marketer).post("/scores/rfm/recompute/")
    assert response.status_code == 302
    assert response["Location"] == "/scores/rfm/"
    assert queued == ["profiles.insights_rfm_recompute"]
