"""Pages and htmx fragments of the segments app: list, builder, detail, and the profile fragment."""

import csv
import datetime as dt
import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.celery import task_publish
from cdp_site.params import positive_id
from cdp_site.roles import Role, role_required
from cdp_site.signals import personal_data_accessed
from compliance.selectors import consent_purposes
from profiles.masking import can_view_personal_data, mask_traits

from . import charts
from .builder import FormReader, apply_op, builder_problems, builder_tree
from .compiler import explain
from .definition import (
    COUNT_OPERATORS,
    OPERATOR_LABELS,
    DefinitionError,
    Problem,
    definition_problems,
    empty_definition,
    segment_references,
)
from .describe import describe_condition
from .models import Segment
from .selectors import (
    catalogue_fields,
    definition_rules_for,
    profile_get_active,
    profile_memberships,
    segment_can_change,
    segment_definition_lookup,
    segment_flow_per_day,
    segment_get_for_user,
    segment_list_for_user,
    segment_members,
    segment_overlaps,
    segment_preview,
    segment_shares,
    segment_snapshots,
    segments_shown_on_profiles,
)
from .services import (
    segment_create,
    segment_delete,
    segment_duplicate,
    segment_export_audit,
    segment_share,
    segment_unshare,
    segment_update,
)
from .tasks import segment_refresh_task

PROFILE_ROLES = (Role.MARKETER, Role.SUPPORT_AGENT, Role.COMPLIANCE_OFFICER)


ADD_KINDS = (
    ("trait", "Trait"),
    ("event", "Event"),
    ("consent", "Consent"),
    ("identifier", "Identifier"),
    ("segment", "Segment"),
    ("group", "Group"),
)


@role_required(*PROFILE_ROLES)
@require_GET
def profile_segments(request, profile_id: int):
    """Fragment for the customer 360 page: the profile's segments, with "why?" for each."""
    profile = profile_get_active(profile_id)
    shown = set(segments_shown_on_profiles(request.user).values_list("pk", flat=True))
    memberships = [m for m in profile_memberships(profile.pk) if m.segment_id in shown]
    linked = set(segment_list_for_user(request.user).values_list("pk", flat=True))
    current, past = [], []
    for membership in memberships:
        row = {
            "membership": membership,
            "segment": membership.segment,
            "linked": membership.segment_id in linked,
        }
        if membership.exited_at is None:
            row["why"] = explain(
                membership.segment.definition,
                profile.pk,
                segment_lookup=segment_definition_lookup,
            )
            current.append(row)
        else:
            past.append(row)
    return render(
        request,
        "segments/_profile_segments.html",
        {"profile": profile, "current": current, "past": past[:20]},
    )


@role_required(Role.MARKETER)
@require_GET
def segment_list(request):
    segments = segment_list_for_user(request.user).select_related("owner")
    return render(request, "segments/segment_list.html", {"segments": segments})


def _catalogue_types() -> tuple[dict, dict, dict]:
    fields = catalogue_fields()
    types = {f.key: f.value_type for f in fields["traits"]}
    property_types = {
        (event, f.key): f.value_type for event, rows in fields["properties"].items() for f in rows
    }
    return fields, types, property_types


def _country(traits: dict) -> str:
    """The country trait, or the address's: shops send it either way."""
    address = traits.get("address")
    nested = address.get("country") if isinstance(address, dict) else None
    return str(traits.get("country") or nested or "")


def _sample_rows(user, sample) -> list[dict]:
    personal = can_view_personal_data(user)
    return [
        {
            "id": p.pk,
            "traits": p.traits if personal else mask_traits(p.traits),
            "country": _country(p.traits or {}),
        }
        for p in sample
    ]


def _builder_context(request, *, segment, definition, name, problems, show_errors) -> dict:
    fields, types, property_types = _catalogue_types()
    # A missing name is said once, under the name: the conditions and the count are fine.
    problems = [p for p in problems if p.path != "name"]
    return {
        "segment": segment,
        "name": name,
        "definition_json": json.dumps(definition),
        "tree": builder_tree(definition, types, property_types, problems if show_errors else []),
        "catalogue": fields,
        "purposes": consent_purposes(),
        "other_segments": segment_list_for_user(request.user).exclude(
            pk=segment.pk if segment else None
        ),
        "operator_labels": OPERATOR_LABELS,
        "count_operators": [(op, OPERATOR_LABELS[op]) for op in COUNT_OPERATORS],
        "add_kinds": ADD_KINDS,
        "builder_url": reverse("segments:edit", args=[segment.pk])
        if segment
        else reverse("segments:new"),
        "preview": _preview(request, definition, problems, segment),
    }


def _preview(request, definition, problems, segment) -> dict:
    if problems:
        return {"problems": problems}
    preview = segment_preview(definition, self_id=segment.pk if segment else None)
    preview["rows"] = _sample_rows(request.user, preview["sample"])
    if preview["sample"] and can_view_personal_data(request.user):
        _audit_members_shown(request, segment, [p.pk for p in preview["sample"]])
    return preview


def _audit_members_shown(request, segment, profile_ids: list[int]) -> None:
    """Members' personal data shown unmasked (a members page, a preview's sample): audited."""
    personal_data_accessed.send(
        sender=Segment,
        user=request.user,
        profile_id=None,
        action="segment.members_view",
        detail={"segment_id": segment.pk if segment else None, "profile_ids": profile_ids},
    )


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def segment_builder(request, segment_id: int | None = None):
    """The visual builder (new or existing segment). htmx edits re-render only the builder."""
    segment = segment_get_for_user(request.user, segment_id, perm="change") if segment_id else None
    _fields, types, property_types = _catalogue_types()
    if request.method == "GET":
        definition = segment.definition if segment else empty_definition()
        name = segment.name if segment else ""
    else:
        definition = FormReader(request.POST, types, property_types).definition()
        name = request.POST.get("name", "")
        op = request.POST.get("op", "")
        if op:
            definition = apply_op(definition, op)
    self_id = segment.pk if segment else None
    problems = builder_problems(definition, definition_rules_for(request.user), self_id)
    show_errors = request.method == "POST" and "save" in request.POST
    if show_errors and not problems:
        try:
            if segment:
                segment = segment_update(
                    segment=segment, name=name, definition=definition, user=request.user
                )
            else:
                segment = segment_create(user=request.user, name=name, definition=definition)
        except DefinitionError as error:
            problems = [Problem(error.path, error.message)]
        else:
            messages.success(request, f"Saved “{segment.name}”. Its members are being computed.")
            return redirect("segments:detail", segment.pk)
    context = _builder_context(
        request,
        segment=segment,
        definition=definition,
        name=name,
        problems=problems,
        show_errors=show_errors,
    )
    context["name_error"] = next((p.message for p in problems if p.path == "name"), "")
    template = (
        "segments/_builder_response.html" if request.htmx else "segments/segment_builder.html"
    )
    return render(request, template, context)


@role_required(Role.MARKETER)
@require_POST
def segment_builder_preview(request):
    """The live count for the builder's current form (debounced by the page)."""
    _fields, types, property_types = _catalogue_types()
    definition = FormReader(request.POST, types, property_types).definition()
    segment_id = positive_id(request.POST.get("segment_id", ""))
    segment = segment_get_for_user(request.user, segment_id) if segment_id else None
    problems = definition_problems(
        definition,
        self_id=segment.pk if segment else None,
        **definition_rules_for(request.user),
    )
    return render(
        request,
        "segments/_preview.html",
        {"preview": _preview(request, definition, problems, segment)},
    )


@role_required(Role.MARKETER)
@require_GET
def segment_detail(request, segment_id: int):
    segment = segment_get_for_user(request.user, segment_id)
    now = timezone.now()
    page = Paginator(segment_members(segment).select_related("profile"), 25).get_page(
        request.GET.get("page")
    )
    personal = can_view_personal_data(request.user)
    rows = [
        {
            "membership": m,
            "traits": m.profile.traits if personal else mask_traits(m.profile.traits),
            "country": _country(m.profile.traits or {}),
        }
        for m in page
    ]
    if personal and rows:
        _audit_members_shown(request, segment, [row["membership"].profile_id for row in rows])
    context = {"segment": segment, "page": page, "rows": rows}
    if request.htmx and request.GET.get("page"):
        return render(request, "segments/_members.html", context)
    why = None
    explain_id = request.GET.get("explain", "").strip()
    if explain_id:
        if positive_id(explain_id) and segment.definition is not None:
            try:
                profile = profile_get_active(int(explain_id))
            except Http404:
                why = {"error": f"No profile {explain_id}."}
            else:
                why = {
                    "profile_id": profile.pk,
                    "tree": explain(
                        segment.definition, profile.pk, segment_lookup=segment_definition_lookup
                    ),
                }
        else:
            why = {"error": "Enter a profile id."}
    snapshots = segment_snapshots(segment)
    context.update(
        {
            "can_change": segment_can_change(request.user, segment),
            "summary": describe_condition({**segment.definition, "type": "group"}),
            "definition_tree": explain_labels(segment.definition),
            "size_chart": charts.size_over_time(snapshots) if snapshots else "",
            "flow_chart": charts.flow_per_day(
                segment_flow_per_day(segment, days=30, now=now), days=30, today=now.date()
            ),
            "overlaps": segment_overlaps(segment, segment_list_for_user(request.user))[:10],
            "why": why,
            "users": get_user_model().objects.exclude(pk=request.user.pk).order_by("username"),
            "groups": Group.objects.order_by("name"),
            "shares": segment_shares(segment),
        }
    )
    return render(request, "segments/segment_detail.html", context)


def explain_labels(definition: dict) -> list:
    """The definition as nested (label, children) for display."""
    names = dict(
        Segment.objects.filter(pk__in=segment_references(definition)).values_list("pk", "name")
    )

    def walk(node):
        return {
            "label": describe_condition(node, names),
            "children": [walk(c) for c in node.get("conditions", [])]
            if node.get("type", "group") == "group"
            else [],
        }

    return walk({**definition, "type": "group"})["children"]


@role_required(Role.MARKETER)
@require_POST
def segment_action(request, segment_id: int):
    """Duplicate, delete, refresh now, or share; then back to a page."""
    action = request.POST.get("action", "")
    if action == "duplicate":
        segment = segment_get_for_user(request.user, segment_id)
        copy = segment_duplicate(user=request.user, segment=segment)
        messages.success(request, f"Created “{copy.name}”.")
        return redirect("segments:detail", copy.pk)
    segment = segment_get_for_user(request.user, segment_id, perm="change")
    if action == "delete":
        try:
            segment_delete(segment=segment)
        except DefinitionError as error:
            messages.error(request, error.message)
            return redirect("segments:detail", segment.pk)
        messages.success(request, f"Deleted “{segment.name}”.")
        return redirect("segments:list")
    if action == "refresh":
        if task_publish(segment_refresh_task, segment.pk) is None:
            messages.error(
                request,
                "The refresh could not be queued (the task broker is unreachable); "
                "the hourly refresh will bring the members up to date.",
            )
        else:
            messages.success(request, "Refresh queued.")
    elif action == "share":
        user, group = _share_target(request)
        if user or group:
            segment_share(
                segment=segment,
                user=user,
                group=group,
                can_edit=request.POST.get("can_edit") == "on",
            )
            messages.success(request, f"Shared with {user or group}.")
        else:
            messages.error(request, "Choose a user or a group to share with.")
    elif action == "unshare":
        user, group = _share_target(request)
        if user or group:
            try:
                segment_unshare(segment=segment, user=user, group=group)
            except DefinitionError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, f"No longer shared with {user or group}.")
        else:
            messages.error(request, "Choose a user or a group to stop sharing with.")
    elif action == "rename":
        try:
            segment_update(segment=segment, name=request.POST.get("name", ""))
        except DefinitionError as error:
            messages.error(request, error.message)
    else:
        messages.error(request, "Unknown action.")
    return redirect("segments:detail", segment.pk)


def _share_target(request):
    """The user or group named in a share form; (None, None) for anything else."""

    def pk(name: str) -> int:
        value = request.POST.get(name, "")
        return positive_id(value) or 0

    user = get_user_model().objects.filter(pk=pk("user")).first()
    group = Group.objects.filter(pk=pk("group")).first()
    return user, group


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
    segment = segment_get_for_user(request.user, segment_id)
    personal = can_view_personal_data(request.user)
    members = segment_members(segment).select_related("profile")
    total = members.count()
    segment_export_audit(user=request.user, segment=segment, rows=total)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["profile_id", "entered_at", "email", "name", "country"])
        for m in members.iterator(chunk_size=2000):
            traits = m.profile.traits if personal else mask_traits(m.profile.traits)
            yield writer.writerow(
                [
                    m.profile_id,
                    m.entered_at.isoformat(),
                    _csv_cell(traits.get("email", "")),
                    _csv_cell(traits.get("name", "")),
                    _csv_cell(_country(m.profile.traits or {})),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    stamp = dt.date.today().isoformat()  # noqa: DTZ011 - a file name, not a stored time
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{stamp}.csv"'
    return response
