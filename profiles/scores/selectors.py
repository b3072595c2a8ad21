"""Reads of the scores: the latest runs, and one profile's scores with what they mean."""

from __future__ import annotations

from ..models import ProfileComputed, ScoreRun
from .churn import KEY as CHURN_KEY
from .rfm import GROUPS


def score_run_latest(kind: str) -> ScoreRun | None:
    """The latest finished run of `kind`."""
    return ScoreRun.objects.filter(kind=kind, status=ScoreRun.Status.DONE).first()


def score_run_last_failure(kind: str) -> ScoreRun | None:
    """The latest run of `kind` when it failed (newer than any finished one)."""
    latest = ScoreRun.objects.filter(kind=kind).exclude(status=ScoreRun.Status.RUNNING).first()
    return latest if latest is not None and latest.status == ScoreRun.Status.FAILED else None


def profile_scores(profile_id: int) -> dict:
    """The customer 360's scores of a live profile: RFM with its group's meaning, and churn risk
    with the measured quality of the model behind it (only while that model is offered)."""
    computed = ProfileComputed.objects.filter(profile_id=profile_id).first()
    values = computed.values if computed else {}
    rfm = None
    if "rfm_group" in values:
        rfm = {
            "recency": values.get("rfm_recency"),
            "frequency": values.get("rfm_frequency"),
            "monetary": values.get("rfm_monetary"),
            "group": values["rfm_group"],
            "meaning": GROUPS.get(values["rfm_group"], ""),
        }
    churn = None
    model = score_run_latest(ScoreRun.Kind.CHURN)
    if (
        CHURN_KEY in values
        and model is not None
        and model.details.get("offered")
        and isinstance(values[CHURN_KEY], int | float)
    ):
        churn = {
            "probability": values[CHURN_KEY],
            "percent": round(values[CHURN_KEY] * 100),
            "horizon_days": model.details["horizon_days"],
            "auc": model.details["auc"],
            "baseline_auc": model.details["baseline_auc"],
            "trained_at": model.finished_at,
        }
    return {
        "rfm": rfm,
        "churn": churn,
        "computed_at": computed.computed_at if computed else None,
    }
