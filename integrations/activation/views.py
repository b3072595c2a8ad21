"""Pages of activation: the segment page's “Send to...” fragment for marketers; destinations,
their health, setup with a connection test, event forwarding, run pages with cancel and retry,
dead letters and replay for integration admins."""

from django.contrib import messages
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.errors import DomainError
from cdp_site.roles import Role, role_required
from profiles.models import Event
from segments.selectors import segment_get_for_user

from ..connectors.base import DestinationConnector
from ..connectors.registry import connector_class, connector_classes
from ..models import Source, SyncRun
from ..run_control import run_cancel, run_retry
from ..sync.selectors import run_get_for_user
from ..sync_views import run_page_urls, run_redirect
from .forms import (
    AudienceSyncForm,
    DestinationForm,
    EventForwardForm,
    PauseForm,
    mapping_parse,
    mapping_text,
)
from .forwarding import (
    event_forward_create,
    event_forward_delete,
    event_forward_run_start,
    event_forward_update,
)
from .runner import audience_sync_run_start
from .selectors import (
    audience_sync_get_for_user,
    audience_sync_runs,
    dead_letters_of,
    destination_forwards,
    destination_get_for_user,
    destination_health,
    destination_list_for_user,
    destination_runs,
    destination_syncs,
    destinations_usable_by,
    event_forward_get_for_user,
    segment_syncs_for_user,
)
from .services import (
    audience_sync_create,
    dead_letters_replay,
    destination_check,
    destination_create,
    destination_pause,
    destination_resume,
    destination_share,
    destination_unshare,
    destination_update,
)

# -- marketers: the segment page's fragment ---------------------------------------------------


def _segment_syncs(request, segment_id: int, form=None, error: str = "", status: int = 200):
    context = segment_syncs_for_user(request.user, segment_id)
    context["form"] = form or AudienceSyncForm()
    context["error"] = error
    context["polling"] = any(row["run"] and row["run"].is_active for row in context["rows"])
    template = (
        "integrations/_segment_syncs.html" if request.htmx else "integrations/segment_syncs.html"
    )
    return render(request, template, context, status=status)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def segment_syncs(request, segment_id: int):
    """GET: the segment's syncs and where it may still go; POST: send it to one more
    destination, and start the first run."""
    if request.method == "GET":
        return _segment_syncs(request, segment_id)
    segment = segment_get_for_user(request.user, segment_id)
    form = AudienceSyncForm(request.POST)
    if not form.is_valid():
        return _segment_syncs(request, segment_id, form, "Check the fields below.", status=400)
    destination = (
        destinations_usable_by(request.user).filter(pk=form.cleaned_data["destination"]).first()
    )
    if destination is None:
        return _segment_syncs(request, segment_id, form, "Choose a destination.", status=400)
    try:
        sync = audience_sync_create(
            user=request.user,
            segment=segment,
            destination=destination,
            field_mapping=mapping_parse(form.cleaned_data["field_mapping"]),
            consent_purpose=form.cleaned_data["consent_purpose"],
            mode=form.cleaned_data["mode"],
            interval_minutes=form.cleaned_data["interval_minutes"] or 60,
        )
        audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL, user=request.user)
    except DomainError as problem:
        return _segment_syncs(request, segment_id, form, problem.message, status=400)
    return _segment_syncs(request, segment_id)


@role_required(Role.MARKETER, Role.INTEGRATION_ADMIN)
@require_POST
def audience_sync_run(request, pk: int):
    sync = audience_sync_get_for_user(request.user, pk)
    try:
        audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL, user=request.user)
    except DomainError as problem:
        if request.htmx:
            return _segment_syncs(request, sync.segment_id, error=problem.message, status=409)
        messages.error(request, problem.message)
    if request.htmx:
        return _segment_syncs(request, sync.segment_id)
    return redirect("integrations:audience_sync_detail", pk=sync.pk)


@role_required(Role.MARKETER, Role.INTEGRATION_ADMIN)
@require_GET
def audience_sync_detail(request, pk: int):
    sync = audience_sync_get_for_user(request.user, pk)
    return render(
        request,
        "integrations/audience_sync_detail.html",
        {
            "sync": sync,
            "runs": audience_sync_runs(sync),
            "mapping": mapping_text(sync.field_mapping),
        },
    )


# -- integration admins: destinations ---------------------------------------------------------


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def destination_list(request):
    destinations = destination_list_for_user(request.user).order_by("name")
    return render(
        request,
        "integrations/destination_list.html",
        {"rows": destination_health(destinations), "kinds": _kinds()},
    )


def _described(cls) -> dict:
    """What a page shows of a connector class (templates would call the class itself)."""
    return {"key": cls.key, "label": cls.label, "description": cls.description}


def _kinds() -> list[dict]:
    return [_described(cls) for cls in connector_classes("destination")]


def _connector_or_none(kind: str):
    try:
        cls = connector_class(kind, kind="destination")
    except DomainError:
        return None
    return cls if cls.kind == "destination" else None


@role_required(Role.INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def destination_create_page(request):
    cls = _connector_or_none(request.POST.get("kind") or request.GET.get("kind", ""))
    if cls is None:
        return render(
            request,
            "integrations/destination_create.html",
            {"kinds": _kinds(), "form": None},
        )
    form = DestinationForm(request.POST or None, connector=cls)
    check = None
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("action") == "test":
                check = destination_check(kind=cls.key, values=form.values())
            else:
                destination = destination_create(
                    kind=cls.key,
                    name=form.cleaned_data["name"],
                    values=form.values(),
                    created_by=request.user,
                )
                messages.success(request, f"Destination “{destination.name}” created.")
                return redirect("integrations:destination_detail", pk=destination.pk)
        except DomainError as problem:
            form.add_error(
                f"cfg_{problem.field}" if f"cfg_{problem.field}" in form.fields else None,
                problem.message,
            )
    return render(
        request,
        "integrations/destination_create.html",
        {"connector": _described(cls), "form": form, "check": check},
        status=400 if request.method == "POST" and form.errors else 200,
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def destination_detail(request, pk: int):
    """The destination's health, syncs and runs; POST saves its settings or tests them."""
    destination = destination_get_for_user(request.user, pk)
    cls = _connector_or_none(destination.kind)
    if cls is None:
        return render(
            request,
            "integrations/destination_detail.html",
            {
                "destination": destination,
                "missing_connector": True,
                "health": destination_health([destination])[0],
                "syncs": destination_syncs(destination),
                "runs": destination_runs(destination),
            },
        )
    form = DestinationForm(
        request.POST or None,
        connector=cls,
        initial={"name": destination.name},
        initial_config=destination.config,
        editing=True,
    )
    check = None
    if request.method == "POST":
        destination = destination_get_for_user(request.user, pk, perm="change")
        if form.is_valid():
            try:
                if request.POST.get("action") == "test":
                    check = destination_check(
                        kind=destination.kind, values=form.values(), destination=destination
                    )
                else:
                    destination_update(
                        destination=destination,
                        name=form.cleaned_data["name"],
                        values=form.values(),
                    )
                    messages.success(request, "Settings saved.")
                    return redirect("integrations:destination_detail", pk=destination.pk)
            except DomainError as problem:
                form.add_error(None, problem.message)
    if check is not None and request.htmx:
        return render(request, "integrations/_connection_check.html", {"check": check})
    health = destination_health([destination])[0]
    return render(
        request,
        "integrations/destination_detail.html",
        {
            "destination": destination,
            "connector": _described(cls),
            "health": health,
            "form": form,
            "check": check,
            "syncs": destination_syncs(destination),
            "runs": destination_runs(destination),
            "groups": Group.objects.order_by("name"),
            "shared": destination_shared_groups(destination),
            "pause_form": PauseForm(),
            **_forwarding_context(cls, destination),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


def destination_shared_groups(destination):
    from guardian.shortcuts import get_groups_with_perms

    return [
        group
        for group, perms in get_groups_with_perms(destination, attach_perms=True).items()
        if "use_destination" in perms
    ]


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def destination_pause_page(request, pk: int):
    destination = destination_get_for_user(request.user, pk, perm="change")
    form = PauseForm(request.POST)
    form.is_valid()
    destination_pause(destination=destination, reason=form.cleaned_data.get("reason", ""))
    messages.success(request, "Destination paused: nothing is delivered until it is resumed.")
    return redirect("integrations:destination_detail", pk=pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def destination_resume_page(request, pk: int):
    destination = destination_get_for_user(request.user, pk, perm="change")
    destination_resume(destination=destination)
    messages.success(request, "Destination resumed.")
    return redirect("integrations:destination_detail", pk=pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def destination_share_page(request, pk: int):
    destination = destination_get_for_user(request.user, pk, perm="change")
    group = Group.objects.filter(pk=request.POST.get("group") or 0).first()
    if group is None:
        messages.error(request, "Choose a team.")
    elif request.POST.get("action") == "unshare":
        destination_unshare(destination=destination, group=group)
        messages.success(request, f"“{group.name}” may no longer send audiences here.")
    else:
        destination_share(destination=destination, group=group)
        messages.success(request, f"“{group.name}” may now send audiences here.")
    return redirect("integrations:destination_detail", pk=pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def dead_letter_list(request, pk: int):
    destination = destination_get_for_user(request.user, pk)
    status = request.GET.get("status", "pending")
    page = Paginator(
        dead_letters_of(destination, "" if status == "all" else status).select_related(
            "sync__segment"
        ),
        50,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "integrations/dead_letter_list.html",
        {"destination": destination, "page": page, "status": status},
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def dead_letter_replay(request, pk: int):
    destination = destination_get_for_user(request.user, pk, perm="change")
    ids = [int(i) for i in request.POST.getlist("letter") if i.isdigit()] or None
    try:
        result = dead_letters_replay(destination=destination, user=request.user, ids=ids)
    except DomainError as problem:
        messages.error(request, problem.message)
    else:
        messages.success(
            request,
            f"{result['replayed']} record{'s' if result['replayed'] != 1 else ''} replayed; "
            f"{len(result['runs'])} run{'s' if len(result['runs']) != 1 else ''} started.",
        )
    return redirect("integrations:dead_letter_list", pk=pk)


# -- integration admins: event forwarding -----------------------------------------------------


def _forwards(cls) -> bool:
    """Whether the destination's connector takes forwarded events."""
    return cls is not None and cls.forward is not DestinationConnector.forward


def _forward_form(data=None) -> EventForwardForm:
    return EventForwardForm(data, sources=Source.objects.order_by("name"), types=Event.Type.values)


def _forwarding_context(cls, destination) -> dict:
    if not _forwards(cls):
        return {"forwarding": False}
    return {
        "forwarding": True,
        "forwards": destination_forwards(destination),
        "forward_form": _forward_form(),
    }


def _to_forwards(pk: int):
    return redirect(reverse("integrations:destination_detail", args=[pk]) + "#forwards")


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def event_forward_create_page(request, pk: int):
    destination = destination_get_for_user(request.user, pk, perm="change")
    if not _forwards(_connector_or_none(destination.kind)):
        messages.error(request, "This destination does not take forwarded events.")
        return redirect("integrations:destination_detail", pk=pk)
    form = _forward_form(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label if name in form.fields else 'form'}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
        messages.error(request, f"Nothing was set up ({problems}).")
        return _to_forwards(pk)
    data = form.cleaned_data
    try:
        event_forward_create(
            destination=destination,
            source_ids=data["source_ids"],
            types=data["types"],
            names=form.names_list(),
            history=data["history"],
            user=request.user,
        )
    except DomainError as problem:
        messages.error(request, f"Nothing was set up: {problem.message}")
    else:
        messages.success(request, "Forwarding set up: matching events are sent every minute.")
    return _to_forwards(pk)


def _forward_of(request, pk: int, forward_id: int):
    """The forward asked for, of the destination in the address, that the person may change."""
    forward = event_forward_get_for_user(request.user, forward_id, action="change")
    if forward.destination_id != pk:
        raise Http404("No such event forward.")
    return forward


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def event_forward_enabled_page(request, pk: int, forward_id: int):
    forward = _forward_of(request, pk, forward_id)
    enabled = request.POST.get("enabled") == "1"
    event_forward_update(forward=forward, enabled=enabled)
    messages.success(request, "Forwarding switched on." if enabled else "Forwarding switched off.")
    return _to_forwards(pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def event_forward_run_page(request, pk: int, forward_id: int):
    forward = _forward_of(request, pk, forward_id)
    try:
        run = event_forward_run_start(
            forward=forward, trigger=SyncRun.Trigger.MANUAL, user=request.user
        )
    except DomainError as problem:
        messages.error(request, problem.message)
        return _to_forwards(pk)
    return redirect("integrations:destination_run_detail", pk=pk, run_id=run.pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def event_forward_delete_page(request, pk: int, forward_id: int):
    forward = _forward_of(request, pk, forward_id)
    try:
        event_forward_delete(forward=forward)
    except DomainError as problem:
        messages.error(request, problem.message)
    else:
        messages.success(request, "Forwarding removed: no more events are sent by it.")
    return _to_forwards(pk)


# -- integration admins: a destination's runs -------------------------------------------------


def _destination_run(request, pk: int, run_id: int, action: str = "view"):
    destination = destination_get_for_user(
        request.user, pk, perm="change" if action == "change" else "view"
    )
    run = run_get_for_user(request.user, run_id, action=action)
    owner = run.audience_sync or run.event_forward
    if owner is None or owner.destination_id != destination.pk:
        raise Http404("No such run.")
    return destination, run


def _run_subject(run) -> str:
    if run.audience_sync_id:
        return f"“{run.audience_sync.segment.name}” to {run.audience_sync.destination.name}"
    return f"event forwarding to {run.event_forward.destination.name}"


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def destination_run_detail(request, pk: int, run_id: int):
    """An audience or forwarding run's progress, counts and errors, with cancel and retry; htmx
    polls the live part until the run ends."""
    destination, run = _destination_run(request, pk, run_id)
    template = "integrations/sync_run_detail.html"
    context = {
        "subject": _run_subject(run),
        "back_url": reverse("integrations:destination_detail", args=[destination.pk]),
        "back_label": destination.name,
        **run_page_urls(run, "integrations:destination_run", destination.pk),
        "retry_note": (
            "A new run sends what the destination is missing."
            if run.audience_sync_id
            else "A new run continues after the last forwarded event."
        ),
    }
    return render(request, template + "#live" if request.htmx else template, context)


def _to_run(request, pk: int, run_id: int):
    return run_redirect(request, "integrations:destination_run_detail", pk, run_id)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def destination_run_cancel(request, pk: int, run_id: int):
    destination, run = _destination_run(request, pk, run_id, action="change")
    try:
        run = run_cancel(run)
    except DomainError as problem:
        messages.error(request, problem.message)
    else:
        messages.success(request, run.message or "Cancelled.")
    return _to_run(request, destination.pk, run.pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def destination_run_retry(request, pk: int, run_id: int):
    destination, run = _destination_run(request, pk, run_id, action="change")
    try:
        new_run = run_retry(run, user=request.user)
    except DomainError as problem:
        messages.error(request, problem.message)
        return _to_run(request, destination.pk, run.pk)
    messages.success(request, "A new run has started.")
    return _to_run(request, destination.pk, new_run.pk)
