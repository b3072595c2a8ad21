"""Pages of the integrations app: sources, their set-up details and the live debugger."""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.roles import Role, role_required
from cdp_site.signals import personal_data_accessed

from .forms import QuarantineReplayForm, SourceEnabledForm, SourceForm
from .selectors import (
    event_as_message,
    source_event_get,
    source_get_for_user,
    source_latest_events,
    source_list_for_user,
    source_quarantine,
    source_quarantine_count,
    source_quarantine_entry_get,
    source_quarantine_pending,
    source_type_counts,
)
from .services import quarantine_replay, source_create, source_enabled_set


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_list(request):
    return render(
        request, "integrations/source_list.html", {"sources": source_list_for_user(request.user)}
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
        },
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_POST
def source_enabled(request, pk: int):
    source = source_get_for_user(request.user, pk, perm="integrations.change_source")
    form = SourceEnabledForm(request.POST)
    form.is_valid()
    source = source_enabled_set(source=source, enabled=form.cleaned_data.get("enabled", False))
    state = "enabled" if source.enabled else "disabled"
    messages.success(request, f"Source “{source.name}” {state}.")
    return redirect("integrations:source_detail", pk=source.pk)


# The polled fragment lists summaries only; each message's JSON is fetched when it is opened, so
# that a page refreshed every 2 seconds stays small whatever the messages weigh.
DEBUGGER_QUARANTINE_SHOWN = 20
QUARANTINE_PAGE_SIZE = 50


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_debugger(request, pk: int):
    """The latest messages, counts per type and the quarantine; the fragment is polled by htmx."""
    source = source_get_for_user(request.user, pk)
    events = source_latest_events(source)
    context = {
        "source": source,
        "events": events,
        "counts": source_type_counts(source),
        "quarantine": source_quarantine(source, limit=DEBUGGER_QUARANTINE_SHOWN),
        "quarantine_count": source_quarantine_count(source),
    }
    if not request.htmx:
        _audit_debugger(request, source, action="source_debugger_view", shown=len(events))
        _debugger_seen_store(request, source, events)
        return render(request, "integrations/source_debugger.html", context)
    newest_seen = request.session.get(_debugger_seen_key(source), 0)
    new = [event.pk for event in events if event.pk > newest_seen]
    if new:
        # The poll shows ids of messages the person had not seen: audited, once per new batch
        # rather than every two seconds.
        _audit_debugger(request, source, action="source_debugger_poll", event_ids=new)
        _debugger_seen_store(request, source, events)
    return render(request, "integrations/_source_debugger_live.html", context)


def _debugger_seen_key(source) -> str:
    return f"debugger-seen:{source.pk}"


def _debugger_seen_store(request, source, events) -> None:
    if events:
        request.session[_debugger_seen_key(source)] = max(event.pk for event in events)


def _audit_debugger(request, source, *, action: str, **detail) -> None:
    # Raw messages carry personal data (ids, e-mails in traits): each opening is audited.
    personal_data_accessed.send(
        sender=source_debugger,
        user=request.user,
        profile_id=None,
        action=action,
        detail={"source_id": source.pk, **detail},
    )


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def source_debugger_message(request, pk: int, event_id: int):
    """One stored message as JSON, when it is opened in the debugger."""
    source = source_get_for_user(request.user, pk)
    event = source_event_get(source, event_id)
    _audit_debugger(request, source, action="source_debugger_message_view", event_id=event.pk)
    payload = json.dumps(event_as_message(event), indent=2, ensure_ascii=False)
    return HttpResponse(payload, content_type="text/plain; charset=utf-8")


@role_required(Role.INTEGRATION_ADMIN)
@require_GET
def quarantine_message(request, pk: int, entry_id: int):
    """One quarantined message as it was sent, when it is opened."""
    source = source_get_for_user(request.user, pk)
    entry = source_quarantine_entry_get(source, entry_id)
    _audit_debugger(request, source, action="quarantine_message_view", entry_id=entry.pk)
    return HttpResponse(_pretty(entry.payload), content_type="text/plain; charset=utf-8")


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
