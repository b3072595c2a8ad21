"""Pages of connector sources and their sync runs: add (choose a kind, fill the form built from
the connector's fields, test the connection, save), edit, sync now, schedule, and the run page
whose progress htmx polls until the run ends."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.errors import DomainError
from cdp_site.roles import Role, role_required

from .connectors.base import ConnectionCheck
from .connectors.registry import connector_class
from .models import Source, SyncRun
from .selectors import source_get_for_user
from .source_forms import ScheduleForm, connector_form_class, connector_form_initial
from .sources import connection_test, source_connector_create, source_connector_update
from .sync.runner import sync_run_cancel, sync_run_retry, sync_run_start
from .sync.schedules import source_schedule_set
from .sync.selectors import run_counts, source_kinds, sync_run_errors, sync_run_get_for_user

CHANGE = "integrations.change_source"


def _connector_or_404(kind: str):
    try:
        cls = connector_class(kind)
    except DomainError:
        raise Http404("No such kind of source.") from None
    if cls.kind != "source":
        raise Http404("No such kind of source.")
    return cls


def _values(form) -> dict:
    """The submitted settings, as text, for the service to validate (it names bad fields)."""
    return {name: form.data.get(name) for name in form.fields if name != "name"}


def _test_answer(request, check: ConnectionCheck):
    """The connection test's answer: the fragment for htmx, else a message on the page."""
    return render(request, "integrations/_connection_check.html", {"check": check})


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_kind_choose(request):
    """Step one of adding a source: what kind of source it is."""
    return render(request, "integrations/source_kind_choose.html", {"kinds": source_kinds()})


@role_required(Role.INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def source_add(request, kind: str):
    """Step two: the connector's settings, a connection test, and save."""
    if kind == Source.Kind.TRACKING_API:
        return redirect("integrations:source_create")
    cls = _connector_or_404(kind)
    form = connector_form_class(cls)(request.POST or None)
    check = None
    if request.method == "POST":
        if request.POST.get("action") == "test":
            check = connection_test(kind=kind, values=_values(form))
            if request.htmx:
                return _test_answer(request, check)
        else:
            try:
                source = source_connector_create(
                    name=form.data.get("name", ""),
                    kind=kind,
                    values=_values(form),
                    created_by=request.user,
                )
            except DomainError as problem:
                form.is_valid()
                form.add_error(
                    problem.field if problem.field in form.fields else None, problem.message
                )
            else:
                messages.success(
                    request, f"Source “{source.name}” saved. Start a sync or set a schedule."
                )
                return redirect("integrations:source_detail", pk=source.pk)
    return render(
        request,
        "integrations/source_connector_form.html",
        {"form": form, "connector": cls, "check": check, "source": None},
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def source_edit(request, pk: int):
    """A connector source's settings; secrets left blank stay as they were."""
    source = source_get_for_user(request.user, pk, perm=CHANGE)
    if source.is_tracking:
        raise Http404("A tracking API source has no settings to edit.")
    cls = _connector_or_404(source.kind)
    form_class = connector_form_class(cls, editing=True)
    form = form_class(request.POST or None, initial=connector_form_initial(source))
    check = None
    if request.method == "POST":
        if request.POST.get("action") == "test":
            check = connection_test(kind=source.kind, values=_values(form), source=source)
            if request.htmx:
                return _test_answer(request, check)
        else:
            try:
                source = source_connector_update(
                    source=source, name=form.data.get("name", ""), values=_values(form)
                )
            except DomainError as problem:
                form.is_valid()
                form.add_error(
                    problem.field if problem.field in form.fields else None, problem.message
                )
            else:
                messages.success(request, f"Source “{source.name}” saved.")
                return redirect("integrations:source_detail", pk=source.pk)
    return render(
        request,
        "integrations/source_connector_form.html",
        {"form": form, "connector": cls, "check": check, "source": source},
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def source_test(request, pk: int):
    """Test a saved source's connection with its saved settings."""
    source = source_get_for_user(request.user, pk, perm=CHANGE)
    if source.is_tracking:
        raise Http404("A tracking API source has no connection to test.")
    check = connection_test(kind=source.kind, source=source)
    if request.htmx:
        return _test_answer(request, check)
    (messages.success if check.ok else messages.error)(request, check.message)
    return redirect("integrations:source_detail", pk=source.pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def source_sync(request, pk: int):
    """Sync now: queue a run and open its page."""
    source = source_get_for_user(request.user, pk, perm=CHANGE)
    try:
        run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL, user=request.user)
    except DomainError as problem:
        messages.error(request, problem.message)
        return redirect("integrations:source_detail", pk=source.pk)
    messages.success(request, f"Sync of “{source.name}” started.")
    return redirect("integrations:sync_run_detail", pk=source.pk, run_id=run.pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def source_schedule(request, pk: int):
    source = source_get_for_user(request.user, pk, perm=CHANGE)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
        )
        messages.error(request, f"The schedule was not changed ({problems}).")
        return redirect("integrations:source_detail", pk=source.pk)
    data = form.cleaned_data
    try:
        source = source_schedule_set(
            source=source,
            schedule=data["schedule"],
            every_minutes=data.get("every_minutes"),
            at=data.get("at"),
        )
    except DomainError as problem:
        messages.error(request, f"The schedule was not changed: {problem.message}")
    else:
        messages.success(request, "Schedule saved.")
    return redirect("integrations:source_detail", pk=source.pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def sync_run_detail(request, pk: int, run_id: int):
    """A run's progress, counts and errors; htmx polls the live part until the run ends."""
    source = source_get_for_user(request.user, pk)
    run = sync_run_get_for_user(request.user, run_id, source=source)
    template = "integrations/sync_run_detail.html"
    context = {
        "source": source,
        "subject": source.name,
        "back_url": reverse("integrations:source_detail", args=[source.pk]),
        "back_label": source.name,
        **run_page_urls(run, "integrations:sync_run", source.pk),
        "retry_note": "A new run continues from the last stored batch.",
    }
    return render(request, template + "#live" if request.htmx else template, context)


def run_page_urls(run, prefix: str, owner_id: int) -> dict:
    """What the run page shows of a run beside its owner: counts, errors and its action URLs
    (`prefix` + `_detail`, `_cancel`, `_retry`, each taking the owner's and the run's id)."""
    return {
        "run": run,
        "counts": run_counts(run),
        "errors": sync_run_errors(run),
        "poll_url": reverse(f"{prefix}_detail", args=[owner_id, run.pk]),
        "cancel_url": reverse(f"{prefix}_cancel", args=[owner_id, run.pk]),
        "retry_url": reverse(f"{prefix}_retry", args=[owner_id, run.pk]),
    }


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def sync_run_cancel_page(request, pk: int, run_id: int):
    source = source_get_for_user(request.user, pk, perm=CHANGE)
    run = sync_run_get_for_user(request.user, run_id, source=source, perm=CHANGE)
    try:
        run = sync_run_cancel(run=run)
    except DomainError as problem:
        messages.error(request, problem.message)
    else:
        messages.success(request, run.message or "Cancelled.")
    return _to_run(request, source.pk, run.pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def sync_run_retry_page(request, pk: int, run_id: int):
    source = source_get_for_user(request.user, pk, perm=CHANGE)
    run = sync_run_get_for_user(request.user, run_id, source=source, perm=CHANGE)
    try:
        new_run = sync_run_retry(run=run, user=request.user)
    except DomainError as problem:
        messages.error(request, problem.message)
        return _to_run(request, source.pk, run.pk)
    messages.success(request, "A new run continues from the last stored batch.")
    return _to_run(request, source.pk, new_run.pk)


def _to_run(request, source_id: int, run_id: int):
    return run_redirect(request, "integrations:sync_run_detail", source_id, run_id)


def run_redirect(request, url_name: str, owner_id: int, run_id: int):
    """To a run's page; an htmx request is told to load it as a whole page."""
    url = reverse(url_name, args=[owner_id, run_id])
    response = redirect(url)
    if request.htmx:
        response["HX-Redirect"] = url
    return response
