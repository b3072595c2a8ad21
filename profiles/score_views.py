"""Pages of the scores: RFM groups, the churn model's quality, a customer's scores on the 360."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cdp_site.celery import task_publish
from cdp_site.roles import PROFILE_READERS, Role, role_required

from . import tasks
from .models import ScoreRun
from .scores import charts, selectors
from .scores.rfm import GROUPS
from .selectors import profile_open_for_user


@role_required(Role.MARKETER)
@require_GET
def rfm_overview(request):
    run = selectors.score_run_latest(ScoreRun.Kind.RFM)
    groups = []
    if run is not None:
        groups = [
            {"name": name, "meaning": meaning, "count": run.details["groups"].get(name, 0)}
            for name, meaning in GROUPS.items()
        ]
    context = {
        "run": run,
        "failure": selectors.score_run_last_failure(ScoreRun.Kind.RFM),
        "groups": groups,
        "grid": charts.rfm_grid_figure(run.details["cells"]) if run and run.scored else None,
    }
    return render(request, "profiles/scores_rfm.html", context)


@role_required(Role.MARKETER)
@require_GET
def churn_overview(request):
    run = selectors.score_run_latest(ScoreRun.Kind.CHURN)
    details = run.details if run else {}
    context = {
        "run": run,
        "details": details,
        "failure": selectors.score_run_last_failure(ScoreRun.Kind.CHURN),
        "calibration": charts.calibration_figure(details) if "calibration" in details else None,
        "distribution": (
            charts.churn_distribution_figure(details["distribution"])
            if details.get("offered") and "distribution" in details
            else None
        ),
        "coefficients": sorted(
            details.get("coefficients", {}).items(), key=lambda item: -abs(item[1])
        ),
    }
    return render(request, "profiles/scores_churn.html", context)


def _queued(request, task, done: str) -> None:
    if task_publish(task) is None:
        messages.error(request, "The task queue is unavailable; the scheduled run will do it.")
    else:
        messages.success(request, f"{done} Reload this page in a minute.")


@role_required(Role.MARKETER)
@require_POST
def rfm_recompute(request):
    _queued(request, tasks.rfm_recompute_task, "RFM scores are being recomputed.")
    return redirect("profiles:rfm")


@role_required(Role.MARKETER)
@require_POST
def churn_retrain(request):
    _queued(request, tasks.churn_train_task, "The churn model is being retrained.")
    return redirect("profiles:churn")


@role_required(*PROFILE_READERS)
@require_GET
def profile_scores(request, profile_id: int):
    """Fragment for the customer 360: the profile's scores, each with one line saying why."""
    profile = profile_open_for_user(
        user=request.user,
        profile_id=profile_id,
        detail={"page": "customer 360", "fragment": "scores"},
    )
    context = {"profile": profile, **selectors.profile_scores(profile.pk)}
    return render(request, "profiles/_profile_scores.html", context)
