"""Pages and htmx fragments of the segments app: list, builder, detail, one view per action on a
segment, the CSV export, and the customer 360's segments fragment.

Each view parses its input, reads through `selectors` or acts through `services`, and renders; a
page and its htmx fragments come from one template (`{% partialdef %}`).
"""

import csv
import datetime as dt
import json
from functools import wraps

from django.contrib import messages
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.errors import DomainError, TooExpensiveError, TooManyRequestsError
from cdp_site.params import positive_id
from cdp_site.roles import PROFILE_READERS, Role, role_required

from . import charts, selectors, services
from .builder import FormReader, apply_op, builder_tree, problem_place
from .definition import (
    COUNT_OPERATORS,
    OPERATOR_LABELS,
    DefinitionError,
    Problem,
    definition_problems,
    empty_definition,
)

ADD_KINDS = (
    ("trait", "Trait"),
    ("computed", "Computed trait"),
    ("event", "Event"),
    ("consent", "Consent"),
    ("identifier", "Identifier"),
    ("segment", "Segment"),
    ("group", "Group"),
)


@role_required(*PROFILE_READERS)
@require_GET
def profile_segments(request, profile_id: int):
    """Fragment for the customer 360 page: the profile's segments, with "why?" for each."""
    context = selectors.profile_segments_for_user(request.user, profile_id)
    return render(request, "segments/_profile_segments.html", context)


@role_required(Role.MARKETER)
@require_GET
def segment_list(request):
    segments = selectors.segment_list_for_user(request.user, with_owner=True)
    return render(request, "segments/segment_list.html", {"segments": segments})


def _field_types(catalogue: dict) -> tuple[dict, dict]:
    """The value type of each trait path, and of each (event, property path)."""
    types = {f.path: f.value_type for f in catalogue["traits"]}
    property_types = {
        (event, f.path): f.value_type
        for event, rows in catalogue["properties"].items()
        for f in rows
    }
    return types, property_types


def _problems(request, definition, segment) -> list[Problem]:
    """The definition's problems by the rules of the person editing it."""
    return definition_problems(
        definition,
        self_id=segment.pk if segment else None,
        **selectors.definition_rules_for(request.user, owner=segment.owner if segment else None),
    )


def _preview(request, definition, problems, segment) -> dict:
    """The live count, or what stops it: every problem, said where it is, by the same rules
    as saving."""
    if problems:
        return {
            "problems": [
                {"place": problem_place(p.path), "message": p.message} for p in problems[:5]
            ],
            "more_problems": max(len(problems) - 5, 0),
        }
    try:
        return selectors.segment_preview_for_user(request.user, definition, segment=segment)
    except (TooExpensiveError, TooManyRequestsError) as refused:
        # Said in place of the count: the form stays as it is and can still be saved.
        return {"unavailable": refused.message}


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def segment_builder(request, segment_id: int | None = None):
    """The visual builder (new or existing segment). htmx edits re-render only the builder."""
    segment = (
        selectors.segment_get_for_user(request.user, segment_id, perm="change")
        if segment_id
        else None
    )
    choices = selectors.segment_builder_choices(request.user, segment=segment)
    types, property_types = _field_types(choices["catalogue"])
    computed_types = choices["computed_fields"]
    if request.method == "GET":
        definition = segment.definition if segment else empty_definition()
        name = segment.name if segment else ""
    else:
        definition = FormReader(request.POST, types, property_types, computed_types).definition()
        name = request.POST.get("name", "")
        op = request.POST.get("op", "")
        if op:
            definition = apply_op(definition, op)
    problems = _problems(request, definition, segment)
    show_errors = request.method == "POST" and "save" in request.POST
    if show_errors and not problems:
        try:
            if segment:
                segment = services.segment_update(
                    segment=segment, name=name, definition=definition, user=request.user
                )
            else:
                segment = services.segment_create(
                    user=request.user, name=name, definition=definition
                )
        except DefinitionError as error:
            problems = [Problem(error.path, error.message)]
        else:
            messages.success(request, f"Saved “{segment.name}”. Its members are being computed.")
            return redirect("segments:detail", segment.pk)
    # A missing name is said once, under the name: the conditions and the count are fine.
    condition_problems = [p for p in problems if p.path != "name"]
    tree = builder_tree(
        definition,
        types,
        property_types,
        condition_problems if show_errors else [],
        computed_types=computed_types,
    )
    selectors.builder_suggest(request.user, tree)
    context = {
        **choices,
        "segment": segment,
        "name": name,
        "name_error": next((p.message for p in problems if p.path == "name"), ""),
        "definition_json": json.dumps(definition),
        "tree": tree,
        "operator_labels": OPERATOR_LABELS,
        "count_operators": [(op, OPERATOR_LABELS[op]) for op in COUNT_OPERATORS],
        "add_kinds": ADD_KINDS,
        "builder_url": reverse("segments:edit", args=[segment.pk])
        if segment
        else reverse("segments:new"),
        "preview": _preview(request, definition, condition_problems, segment),
    }
    template = "segments/segment_builder.html"
    return render(request, f"{template}#builder-response" if request.htmx else template, context)


@role_required(Role.MARKETER)
@require_POST
def segment_preview(request):
    """The live count for the builder's current form (debounced by the page)."""
    choices = selectors.segment_builder_choices(request.user)
    definition = FormReader(
        request.POST, *_field_types(choices["catalogue"]), choices["computed_fields"]
    ).definition()
    segment_id = positive_id(request.POST.get("segment_id", ""))
    segment = selectors.segment_get_for_user(request.user, segment_id) if segment_id else None
    problems = _problems(request, definition, segment)
    return render(
        request,
        "segments/segment_builder.html#preview",
        {"preview": _preview(request, definition, problems, segment)},
    )


@role_required(Role.MARKETER)
@require_GET
def builder_field_values(request):
    """The common values of one field (`kind` trait or property, `path`, and for a property its
    `event`) for the builder's suggestions: none of fields the person sees masked."""
    kind = request.GET.get("kind", "")
    path = request.GET.get("path", "")[:255]
    if kind not in ("trait", "property") or not path.strip():
        return JsonResponse(
            {"detail": "Give kind (trait or property) and the field's path."}, status=400
        )
    values = selectors.builder_field_values(
        user=request.user, kind=kind, path=path, event=request.GET.get("event", "")[:200]
    )
    return JsonResponse({"kind": kind, "path": path, "values": values})


@role_required(Role.MARKETER)
@require_GET
def segment_detail(request, segment_id: int):
    """The segment's page; with htmx and `?page=`, only its members table."""
    segment = selectors.segment_get_for_user(request.user, segment_id)
    if request.htmx and request.GET.get("part") == "status":
        return _segment_status(request, segment)
    page, rows = selectors.segment_members_page(request.user, segment, request.GET.get("page"))
    context = {"segment": segment, "page": page, "rows": rows}
    if request.htmx and request.GET.get("page"):
        return render(request, "segments/segment_detail.html#members", context)
    why = None
    explain_id = request.GET.get("explain", "").strip()
    if explain_id:
        profile_id = positive_id(explain_id)
        if profile_id and segment.definition is not None:
            why = selectors.segment_explanation(segment, profile_id)
        else:
            why = {"error": "Enter a profile id."}
    now = timezone.now()
    overview = selectors.segment_overview_for_user(request.user, segment, now=now)
    snapshots, flow = overview.pop("snapshots"), overview.pop("flow")
    context.update(
        overview,
        why=why,
        size_chart=charts.size_over_time(snapshots, today=now.date()),
        flow_chart=charts.flow_per_day(flow, days=30, today=now.date()),
    )
    return render(request, "segments/segment_detail.html", context)


def _segment_status(request, segment):
    """The page's polled status cards while a computation runs; once it has ended, the whole
    page is reloaded (members, charts and counts all changed)."""
    response = render(request, "segments/segment_detail.html#status", {"segment": segment})
    if segment.status != segment.Status.RUNNING:
        # The cards answered carry no poll, so polling stops even where a reload is refused.
        response["HX-Refresh"] = "true"
    return response


def segment_action(*, perm: str = "change"):
    """An action on one segment, posted from its page: the view gets the segment (404 unless
    the person may `perm` it), acts, and says how it went; a refusal of the domain is said
    instead. Both end on the segment's page unless the view answers otherwise."""

    def decorator(act):
        @role_required(Role.MARKETER)
        @require_POST
        @wraps(act)
        def view(request, segment_id: int):
            segment = selectors.segment_get_for_user(request.user, segment_id, perm=perm)
            try:
                response = act(request, segment)
            except DomainError as error:
                messages.error(request, error.message)
                response = None
            return response or redirect("segments:detail", segment.pk)

        return view

    return decorator


@segment_action(perm="view")
def segment_duplicate(request, segment):
    copy = services.segment_duplicate(user=request.user, segment=segment)
    messages.success(request, f"Created “{copy.name}”.")
    return redirect("segments:detail", copy.pk)


@segment_action()
def segment_delete(request, segment):
    services.segment_delete(segment=segment, user=request.user)
    messages.success(request, f"Deleted “{segment.name}”.")
    return redirect("segments:list")


@segment_action()
def segment_refresh(request, segment):
    if services.segment_refresh_request(segment=segment):
        messages.success(request, "Refresh queued.")
    else:
        messages.error(
            request,
            "The refresh could not be queued (the task broker is unreachable); "
            "the hourly refresh will bring the members up to date.",
        )


@segment_action()
def segment_rename(request, segment):
    services.segment_update(segment=segment, name=request.POST.get("name", ""), user=request.user)


def _share_ids(request) -> dict:
    """The user or group a share form names, as ids (None for anything else)."""
    return {
        "target_user_id": positive_id(request.POST.get("user", "")),
        "target_group_id": positive_id(request.POST.get("group", "")),
    }


@segment_action()
def segment_share(request, segment):
    target = services.segment_share(
        segment=segment,
        user=request.user,
        can_edit=request.POST.get("can_edit") == "on",
        **_share_ids(request),
    )
    if selectors.share_target_can_open(target):
        messages.success(request, f"Shared with {target}.")
    else:
        # The form offers only people who can open it; a share sent for anyone else is kept
        # (a role may come later), and what it gives them is said plainly.
        messages.warning(
            request,
            f"Shared with {target}, who cannot open it yet: only people with the marketer role "
            "open segments.",
        )


@segment_action()
def segment_unshare(request, segment):
    target = services.segment_unshare(segment=segment, user=request.user, **_share_ids(request))
    messages.success(request, f"No longer shared with {target}.")


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value: object) -> str:
    """A trait as a CSV cell a spreadsheet shows as text: customers write traits, and a cell
    starting with =, +, - or @ would run as a formula when the file is opened."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@role_required(Role.MARKETER)
@require_GET
def segment_export(request, segment_id: int):
    """CSV of the current members (masked for people without personal-data access), audited."""
    segment = selectors.segment_get_for_user(request.user, segment_id)
    rows = services.segment_export(user=request.user, segment=segment)
    writer = csv.writer(_Echo())
    # Ids and times as they are; the traits, which customers write, made safe.
    lines = (writer.writerow([*row[:2], *map(_csv_cell, row[2:])]) for row in rows)
    response = StreamingHttpResponse(lines, content_type="text/csv")
    stamp = dt.date.today().isoformat()  # noqa: DTZ011 - a file name, not a stored time
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{stamp}.csv"'
    return response
