"""Pages of the integrations app: sources, their set-up details and the live debugger."""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.errors import DomainError
from cdp_site.roles import Role, role_required

from .forms import (
    KeyRotateForm,
    QuarantineDiscardForm,
    QuarantineReplayForm,
    SourceEnabledForm,
    SourceForm,
)
from .selectors import (
    message_payload_for_user,
    quarantined_payload_for_user,
    source_debugger_for_user,
    source_deletable,
    source_events_per_day,
    source_get_for_user,
    source_message_for_user,
    source_quarantine_count,
    source_quarantine_pending,
    source_quarantined_for_user,
)
from .services import (
    quarantine_discard,
    quarantine_replay,
    source_create,
    source_delete,
    source_enabled_set,
    source_key_rotate,
)
from .source_forms import ScheduleForm
from .sync.schedules import source_next_run
from .sync.selectors import (
    kind_label,
    source_active_run,
    source_runs,
    source_settings_shown,
    sources_health_for_user,
)


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_list(request):
    return render(
        request, "integrations/source_list.html", {"rows": sources_health_for_user(request.user)}
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def source_create_page(request):
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source = source_create(name=form.cleaned_data["name"], created_by=request.user)
        except IntegrityError:
            form.add_error("name", "A source with this name already exists.")
        else:
            messages.success(request, f"Source “{source.name}” created.")
            return redirect("integrations:source_detail", pk=source.pk)
    return render(request, "integrations/source_create.html", {"form": form})


def _endpoint(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_detail(request, pk: int):
    source = source_get_for_user(request.user, pk)
    if not source.is_tracking:
        return render(
            request,
            "integrations/source_connector_detail.html",
            {
                "source": source,
                "kind_label": kind_label(source.kind),
                "settings_shown": source_settings_shown(source),
                "runs": source_runs(source),
                "active_run": source_active_run(source),
                "next_run": source_next_run(source),
                "schedule_form": ScheduleForm(
                    initial={
                        "schedule": source.schedule,
                        "every_minutes": source.schedule_every_minutes,
                        "at": source.schedule_at,
                    }
                ),
            },
        )
    return render(
        request,
        "integrations/source_detail.html",
        {
            "source": source,
            "endpoint": _endpoint(request),
            # Segment's browser SDK takes the host and the scheme apart (it defaults to https).
            "endpoint_host": request.get_host(),
            "endpoint_scheme": request.scheme,
            "quarantine_count": source_quarantine_count(source),
            "events_per_day": source_events_per_day(source),
            "deletable": source_deletable(source),
            "rotate_form": KeyRotateForm(),
            "key_grace_active": bool(
                source.previous_write_key
                and source.previous_key_expires_at
                and source.previous_key_expires_at > timezone.now()
            ),
        },
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def source_enabled(request, pk: int):
    source = source_get_for_user(request.user, pk, perm="integrations.change_source")
    form = SourceEnabledForm(request.POST)
    form.is_valid()
    source = source_enabled_set(
        source=source, enabled=form.cleaned_data.get("enabled", False), user=request.user
    )
    state = "enabled" if source.enabled else "disabled"
    messages.success(request, f"Source “{source.name}” {state}.")
    return redirect("integrations:source_detail", pk=source.pk)


QUARANTINE_PAGE_SIZE = 50


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_debugger(request, pk: int):
    """The latest messages, counts per type and the quarantine; the fragment is polled by htmx."""
    source = source_get_for_user(request.user, pk)
    # What the person has seen is kept per source in the session: a poll that shows nothing new
    # is not audited again.
    seen_key = f"debugger-seen:{source.pk}"
    seen_before = request.session.get(seen_key, 0) if request.htmx else None
    context = source_debugger_for_user(user=request.user, source=source, seen_up_to=seen_before)
    seen = context.pop("seen_up_to")
    if seen is not None and seen != seen_before:
        request.session[seen_key] = seen
    template = "integrations/source_debugger.html"
    return render(
        request, template + "#live" if request.htmx else template, {"source": source, **context}
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_debugger_message(request, pk: int, event_id: int):
    """One stored message as JSON, when it is opened in the debugger."""
    source = source_get_for_user(request.user, pk)
    event = source_message_for_user(user=request.user, source=source, event_id=event_id)
    message = message_payload_for_user(user=request.user, event=event)
    payload = json.dumps(message, indent=2, ensure_ascii=False)
    return HttpResponse(payload, content_type="text/plain; charset=utf-8")


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def quarantine_message(request, pk: int, entry_id: int):
    """One quarantined message as it was sent, when it is opened."""
    source = source_get_for_user(request.user, pk)
    entry = source_quarantined_for_user(user=request.user, source=source, entry_id=entry_id)
    masked = quarantined_payload_for_user(user=request.user, entry=entry)
    text = _pretty(entry.payload) if masked is None else masked
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def quarantine_list(request, pk: int):
    """Every waiting quarantined message of a source, newest first, a page at a time."""
    source = source_get_for_user(request.user, pk)
    page = Paginator(source_quarantine_pending(source), QUARANTINE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "integrations/quarantine_list.html", {"source": source, "page": page})


def _pretty(payload: str) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def quarantine_replay_page(request, pk: int):
    source = source_get_for_user(request.user, pk, perm="integrations.change_source")
    form = QuarantineReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a quarantined message to replay.")
        return redirect("integrations:source_debugger", pk=source.pk)
    entry = form.cleaned_data["entry"]
    result = quarantine_replay(
        source=source, user=request.user, entry_ids=[entry] if entry else None
    )
    messages.success(
        request,
        f"Replayed: {result.stored} stored, {result.duplicates} already stored, "
        f"{result.still_invalid} still invalid.",
    )
    response = redirect("integrations:source_debugger", pk=source.pk)
    if request.htmx:
        response["HX-Redirect"] = reverse("integrations:source_debugger", args=[source.pk])
    return response


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def source_key_rotate_page(request, pk: int):
    """A new write key; the old one keeps working for the grace period chosen."""
    source = source_get_for_user(request.user, pk, perm="integrations.change_source")
    form = KeyRotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the old key keeps working.")
        return redirect("integrations:source_detail", pk=source.pk)
    try:
        source = source_key_rotate(
            source=source, user=request.user, grace_hours=form.cleaned_data["grace_hours"]
        )
    except DomainError as problem:
        messages.error(request, problem.message)
    else:
        if source.previous_key_expires_at:
            until = timezone.localtime(source.previous_key_expires_at).strftime("%Y-%m-%d %H:%M")
            messages.success(
                request,
                f"New write key made. The old key keeps working until {until} UTC: "
                "put the new one in your SDKs before then.",
            )
        else:
            messages.success(request, "New write key made. The old key no longer works.")
    return redirect("integrations:source_detail", pk=source.pk)


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def source_delete_page(request, pk: int):
    """Delete a source that stored no event; one that did is refused with the reason."""
    source = source_get_for_user(request.user, pk, perm="integrations.delete_source")
    try:
        source_delete(source=source, user=request.user)
    except DomainError as problem:
        messages.error(request, problem.message)
        return redirect("integrations:source_detail", pk=source.pk)
    messages.success(request, f"Source “{source.name}” deleted.")
    return redirect("integrations:source_list")


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def quarantine_discard_page(request, pk: int):
    """Discard one waiting quarantined message (it is kept, marked discarded, and audited)."""
    source = source_get_for_user(request.user, pk, perm="integrations.change_source")
    form = QuarantineDiscardForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a quarantined message to discard.")
    else:
        try:
            quarantine_discard(
                source=source, user=request.user, entry_id=form.cleaned_data["entry"]
            )
        except DomainError as problem:
            messages.error(request, problem.message)
        else:
            messages.success(request, "Message discarded: it will not be replayed.")
    return redirect("integrations:quarantine_list", pk=source.pk)
