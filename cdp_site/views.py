"""Pages of the project package: the home dashboard (its panels are fragments each app serves,
see `cdp_site.dashboard`), system status, and the error pages."""

import datetime as dt

from celery.result import AsyncResult
from django.shortcuts import render
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_GET, require_POST

from .celery import task_publish
from .dashboard import dashboard_panels_for_user
from .navigation import nav_items_for_user
from .rest import json_error
from .roles import ALL_ROLES, Role, role_required, user_roles
from .system import beat_last_run, queue_lengths
from .task_failures import task_failures_since
from .tasks import worker_ping_task

API_PREFIXES = ("/api/", "/v1/")
WORKER_SLOW_AFTER_ATTEMPTS = 30


@role_required(*ALL_ROLES)
@require_GET
def home(request):
    roles = user_roles(request.user)
    return render(
        request,
        "cdp_site/home.html",
        {
            "sections": nav_items_for_user(request.user),
            "roles": sorted(role.label for role in roles),
            "panels": dashboard_panels_for_user(request.user),
        },
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def system_status(request):
    """Queues, failed tasks and beat, refreshed by htmx (the fragment is `#status`); the
    resolution backlog is a fragment of `profiles`, polled beside it."""
    failed_count, failures = task_failures_since(timezone.now() - dt.timedelta(days=1))
    context = {
        "queues": queue_lengths(),
        "failed_count": failed_count,
        "failures": failures,
        "beat": beat_last_run(),
        "checked_at": timezone.now(),
    }
    template = "cdp_site/system_status.html"
    return render(request, template + "#status" if request.htmx else template, context)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def worker_check(request):
    """Queue a ping for the worker; the returned fragment polls until the worker answers."""
    result = task_publish(worker_ping_task)
    if result is None:
        return render(request, "cdp_site/_worker_check.html", {"broker_down": True})
    return render(
        request, "cdp_site/_worker_check.html", {"task_id": result.id, "state": "PENDING"}
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def worker_check_result(request, task_id):
    result = AsyncResult(str(task_id))
    try:
        attempt = max(0, min(int(request.GET.get("attempt", "0")), 10_000))
    except ValueError:
        attempt = 0
    context = {
        "task_id": task_id,
        "state": result.state,
        "attempt": attempt + 1,
        # Polled once a second: after half a minute, say that the worker may not be running.
        "slow": attempt >= WORKER_SLOW_AFTER_ATTEMPTS,
    }
    if result.successful():
        context["answer"] = result.result
        context["answered_at"] = _when(result.result.get("answered_at"))
    elif result.failed():
        context["error"] = str(result.result)
    return render(request, "cdp_site/_worker_check.html", context)


def _when(text) -> dt.datetime | None:
    """An ISO time sent by a worker, for the page to show readably (None if it is not one)."""
    try:
        return dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None


def page_not_found(request, exception):
    if request.path.startswith(API_PREFIXES):
        return json_error(404, "not_found", "No such resource.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIXES):
        return json_error(500, "server_error", "Something went wrong on our side.")
    return defaults.server_error(request)


def tracking_not_found(request, exception):
    """The tracking processes' 404: JSON, and no page (their URLs name no page to link to)."""
    return json_error(404, "not_found", "This server answers the tracking API (/v1/) only.")


def tracking_server_error(request):
    return json_error(500, "server_error", "Something went wrong on our side.")


def permission_denied(request, exception):
    if request.path.startswith(API_PREFIXES):
        return json_error(403, "forbidden", str(exception) or "Not allowed.")
    return render(request, "403.html", {"reason": str(exception)}, status=403)


def bad_request(request, exception):
    if request.path.startswith(API_PREFIXES):
        return json_error(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def csrf_failure(request, reason=""):
    """A form sent without its security token (an expired page, say): the product's 403 page,
    or JSON under the APIs, rather than Django's bare one."""
    message = "The form had expired or came from another site. Reload the page and try again."
    if request.path.startswith(API_PREFIXES):
        return json_error(403, "csrf_failed", message)
    return render(request, "403.html", {"reason": message}, status=403)
