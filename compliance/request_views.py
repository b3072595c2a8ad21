"""Pages of data subject requests: the queue, logging one, its page with its actions and
progress, the printable report, the access archive download and the suppression list.

Compliance officers only. Each action is a POST that calls one service; a refusal of the domain
comes back as a message on the request's page.
"""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.audit import AuditAction, audit_record
from cdp_site.errors import DomainError
from cdp_site.roles import Role, role_required

from . import requests as services
from .deadlines import due_state
from .forms import AssignForm, ExtendForm, QueueFilterForm, RejectForm, RequestForm
from .models import DataSubjectRequest
from .selectors import (
    request_get,
    request_list,
    request_open_for_user,
    request_profiles,
    suppression_summary,
)

OFFICER = Role.COMPLIANCE_OFFICER


@role_required(OFFICER)
@require_GET
def request_queue(request):
    """Open requests, soonest deadline first; overdue and due this week stand out."""
    filters = QueueFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    today = timezone.localdate()
    rows = [
        (row, due_state(row.due_on, today) if row.is_open else "closed")
        for row in request_list(
            type=data.get("type", ""),
            status=data.get("status", ""),
            assignee=data.get("assignee", ""),
        )[:500]
    ]
    return render(
        request,
        "compliance/request_list.html",
        {"rows": rows, "filters": filters, "today": today},
    )


@role_required(OFFICER)
@require_http_methods(["GET", "POST"])
def request_new(request):
    """Log a request received by e-mail, phone, post or in person."""
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.request_create(
                user=request.user,
                type=form.cleaned_data["type"],
                identifiers=form.identifiers(),
                channel=form.cleaned_data["channel"],
                received_on=form.cleaned_data["received_on"],
                assignee=form.cleaned_data["assignee"],
                details=form.details(),
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"Request {created.pk} logged.")
            return redirect("compliance:request_detail", pk=created.pk)
    return render(request, "compliance/request_new.html", {"form": form})


def _detail_context(dsr: DataSubjectRequest) -> dict:
    today = timezone.localdate()
    return {
        "dsr": dsr,
        "state": due_state(dsr.due_on, today) if dsr.is_open else "closed",
        "running": dsr.status == DataSubjectRequest.Status.IN_PROGRESS,
        "percent": _percent(dsr.progress),
    }


def _percent(progress: dict) -> int:
    total = progress.get("total") or 0
    return int(100 * (progress.get("done") or 0) / total) if total else 0


@role_required(OFFICER)
@require_GET
def request_detail(request, pk: int):
    """The request: whom it is about, its steps, its actions, its progress and its report.
    With htmx, only the progress fragment (polled while the request runs)."""
    if request.htmx:
        dsr = request_get(request_id=pk)
        response = render(request, "compliance/_request_progress.html", _detail_context(dsr))
        if dsr.status != DataSubjectRequest.Status.IN_PROGRESS:
            # The run ended while the page polled: reload it, status, actions and all.
            response["HX-Refresh"] = "true"
        return response
    dsr = request_open_for_user(user=request.user, request_id=pk)
    context = _detail_context(dsr)
    context.update(
        {
            "profiles": request_profiles(dsr),
            "steps": dsr.steps.all(),
            "extend_form": ExtendForm(),
            "reject_form": RejectForm(),
            "assign_form": AssignForm(initial={"assignee": dsr.assignee}),
            "rerunnable": services.RERUNNABLE,
            "stalled": dsr.status == DataSubjectRequest.Status.IN_PROGRESS
            and dsr.started_at is not None
            and dsr.started_at < timezone.now() - services.STALLED_AFTER,
            "archive_ok": bool(
                dsr.archive_token
                and dsr.archive_expires_at
                and dsr.archive_expires_at > timezone.now()
            ),
        }
    )
    return render(request, "compliance/request_detail.html", context)


def _act(request, pk: int, action) -> HttpResponse:
    dsr = request_get(request_id=pk)
    try:
        message = action(dsr)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, message)
    return redirect("compliance:request_detail", pk=pk)


@role_required(OFFICER)
@require_POST
def request_verify(request, pk: int):
    def verify(dsr):
        services.request_verify(request=dsr, user=request.user, note=request.POST.get("note", ""))
        return "Identity verified."

    return _act(request, pk, verify)


@role_required(OFFICER)
@require_POST
def request_run(request, pk: int):
    def run(dsr):
        services.request_run(request=dsr, user=request.user)
        return "The request is running."

    return _act(request, pk, run)


@role_required(OFFICER)
@require_POST
def request_extend(request, pk: int):
    form = ExtendForm(request.POST)

    def extend(dsr):
        if not form.is_valid():
            raise DomainError("Give 1 or 2 months, the reason and the date the person was told.")
        services.request_extend(
            request=dsr,
            user=request.user,
            months=form.cleaned_data["months"],
            reason=form.cleaned_data["reason"],
            told_on=form.cleaned_data["told_on"],
        )
        return "Deadline extended."

    return _act(request, pk, extend)


@role_required(OFFICER)
@require_POST
def request_reject(request, pk: int):
    form = RejectForm(request.POST)

    def reject(dsr):
        if not form.is_valid():
            raise DomainError("Give the reason for rejecting the request.")
        services.request_reject(request=dsr, user=request.user, reason=form.cleaned_data["reason"])
        return "Request rejected."

    return _act(request, pk, reject)


@role_required(OFFICER)
@require_POST
def request_assign(request, pk: int):
    form = AssignForm(request.POST)

    def assign(dsr):
        if not form.is_valid():
            raise DomainError("Choose a compliance officer.")
        services.request_assign(
            request=dsr, user=request.user, assignee=form.cleaned_data["assignee"]
        )
        return "Request assigned."

    return _act(request, pk, assign)


@role_required(OFFICER)
@require_GET
def request_report(request, pk: int):
    """The report, printable: what was done, each store's rows, the residual scan."""
    dsr = request_open_for_user(user=request.user, request_id=pk)
    return render(
        request,
        "compliance/request_report.html",
        {"dsr": dsr, "steps": dsr.steps.all(), "report": dsr.report},
    )


@role_required(OFFICER)
@require_GET
def request_archive(request, pk: int, token: str):
    """The access archive: while its link is valid, built now, each download audited."""
    dsr = request_get(request_id=pk)
    if not (
        dsr.archive_token
        and constant_time_compare(dsr.archive_token, token)
        and dsr.archive_expires_at
        and dsr.archive_expires_at > timezone.now()
    ):
        raise Http404("This link has expired or is not valid.")
    return archive_response(dsr, request.user)


def archive_response(dsr: DataSubjectRequest, user) -> HttpResponse:
    from .erasure.archive import archive_build

    content = archive_build(dsr)
    audit_record(
        user=user,
        action=AuditAction.REQUEST_ARCHIVE_DOWNLOAD,
        detail={"request": dsr.pk, "bytes": len(content)},
        sender=DataSubjectRequest,
    )
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="access-request-{dsr.pk}.zip"'
    return response


@role_required(OFFICER)
@require_GET
def suppression_list(request):
    """How many identifiers are suppressed and how much later data was dropped: counts only."""
    return render(request, "compliance/suppression_list.html", {"summary": suppression_summary()})
