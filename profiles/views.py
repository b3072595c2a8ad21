"""Pages of the customer 360 (search, the profile page, its timeline, undoing a merge) and of
the data catalogue, where people confirm or change the class of each field."""

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cdp_site.errors import InvalidInputError, TooExpensiveError
from cdp_site.params import keyset_cursor, keyset_cursor_text, positive_id
from cdp_site.roles import PROFILE_READERS, Role, role_required

from . import charts, selectors, services
from .catalogue import selectors as catalogue_selectors
from .catalogue import services as catalogue_services
from .masking import can_view_personal_data, mask_event_payload
from .models import DataField, Event
from .trait_display import trait_parts, trait_text

FIRST_TIMELINE_PAGE = 25


@role_required(*PROFILE_READERS)
@require_GET
def profile_search(request):
    """One box for any identifier, a name or a profile id; results as you type."""
    query = request.GET.get("q", "")
    context = {
        "query": query,
        # Only spaces: nothing to look for, said as such rather than "no customer matches".
        "blank_query": bool(query) and not query.strip(),
        "results": [],
        "error": "",
    }
    try:
        context["results"] = selectors.profile_search_for_user(user=request.user, query=query)
    except TooExpensiveError as slow:
        context["error"] = slow.message
    template = "profiles/profile_search.html"
    return render(request, template + "#results" if request.htmx else template, context)


@role_required(*PROFILE_READERS)
@require_GET
def profile_detail(request, profile_id: int):
    profile = selectors.profile_open_for_user(
        user=request.user, profile_id=profile_id, detail={"page": "customer 360"}
    )
    if profile.merged_into_id is not None:
        live = selectors.profile_live(profile)
        messages.info(request, f"Profile {profile.pk} was merged into profile {live.pk}.")
        return redirect("profiles:detail", profile_id=live.pk)
    # The timeline's filters come from the address, so a filtered view can be reloaded or sent.
    # The first page is short so the page paints fast; "Older events" then loads full pages.
    first = _parse_filters(request)
    filters = selectors.TimelineFilter(source_id=first.source_id, type=first.type)
    events, cursor = selectors.profile_timeline(
        profile=profile, filters=filters, limit=FIRST_TIMELINE_PAGE
    )
    activity = selectors.profile_activity_weekly(profile=profile)
    # The activity rows already name every source of the profile's events: no second scan.
    sources = dict(sorted({(r["source_id"], r["source"]) for r in activity}, key=lambda s: s[1]))
    traits = [
        {
            "key": t.key,
            # A nested trait (an address) reads as a small list of its parts, by dotted path.
            "parts": trait_parts(t.value) if isinstance(t.value, dict) else None,
            "value": trait_text(t.value),
            "set_at": parse_datetime(t.set_at) if t.set_at else None,
            "source": sources.get(t.source_id, ""),
        }
        for t in selectors.profile_traits_for_user(profile=profile, user=request.user)
    ]
    context = {
        "profile": profile,
        "header": selectors.profile_header(profile=profile, user=request.user),
        "identities": selectors.profile_identities_for_user(profile=profile, user=request.user),
        "traits": traits,
        "sources": sources,
        "merges": selectors.profile_merges_for_user(profile=profile, user=request.user),
        "can_undo": request.user.has_perm("profiles.change_profilemerge"),
        "activity_chart": charts.activity_weekly_figure(activity),
        **_timeline_context(request, profile, events, cursor, filters),
    }
    return render(request, "profiles/profile_detail.html", context)


def _filters_query(filters) -> str:
    params = []
    if filters.source_id:
        params.append(f"source={filters.source_id}")
    if filters.type:
        params.append(f"type={filters.type}")
    return "&".join(params)


def _parse_filters(request) -> selectors.TimelineFilter:
    event_type = request.GET.get("type", "")
    return selectors.TimelineFilter(
        source_id=positive_id(request.GET.get("source", "")),
        type=event_type if event_type in Event.Type.values else "",
        before=keyset_cursor(request.GET.get("before", "")),
    )


def _event_payload(event: Event, full: bool) -> str:
    payload = {
        "type": event.type,
        "event": event.event,
        "name": event.name,
        "messageId": event.message_id,
        "userId": event.user_id,
        "anonymousId": event.anonymous_id,
        "timestamp": event.timestamp.isoformat(),
        "receivedAt": event.received_at.isoformat(),
        "traits": event.traits,
        "properties": event.properties,
        "context": event.context,
    }
    if not full:
        payload = mask_event_payload(payload)
    return json.dumps(payload, indent=2, sort_keys=True, default=str)


def _timeline_context(request, profile, events, cursor, filters) -> dict:
    full = can_view_personal_data(request.user)
    next_url = ""
    if cursor is not None:
        query = "&".join(
            part
            for part in (f"before={keyset_cursor_text(cursor)}", _filters_query(filters))
            if part
        )
        next_url = (reverse("profiles:timeline", args=[profile.pk]) + "?" + query).replace(
            "+", "%2B"
        )
    return {
        "timeline": [{"event": e, "payload": _event_payload(e, full)} for e in events],
        "timeline_next": next_url,
        "filters": filters,
        "event_types": Event.Type.values,
    }


@role_required(*PROFILE_READERS)
@require_GET
def profile_timeline(request, profile_id: int):
    """A page of the timeline; htmx asks for the next page or a filtered one."""
    profile = selectors.profile_get_for_user(user=request.user, profile_id=profile_id)
    if profile.merged_into_id is not None:
        return redirect("profiles:timeline", profile_id=selectors.profile_live(profile).pk)
    filters = _parse_filters(request)
    events, cursor = selectors.profile_timeline_for_user(
        user=request.user, profile=profile, filters=filters
    )
    context = {
        "profile": profile,
        "sources": dict(selectors.profile_event_sources(profile=profile)),
        **_timeline_context(request, profile, events, cursor, filters),
    }
    if request.htmx:
        # The next page, or the first page of a new filter: only the items. The filter form
        # stays in place, so a choice made while a response is on its way is never lost.
        response = render(request, "profiles/profile_timeline.html#timeline-items", context)
        if not filters.before and request.headers.get("HX-Target") == "timeline-list":
            # A new filter: the address of the profile page with it, for reload and Back.
            query = _filters_query(filters)
            url = reverse("profiles:detail", args=[profile.pk])
            response["HX-Push-Url"] = url + ("?" + query if query else "")
        return response
    return render(request, "profiles/profile_timeline.html", context)


@role_required(Role.SUPPORT_AGENT)
@require_http_methods(["GET", "POST"])
def merge_undo(request, merge_id: int):
    """GET: what undoing the merge will do, and a button to confirm. POST: undo it."""
    merge = selectors.merge_get_for_user(user=request.user, merge_id=merge_id)
    if request.method == "GET":
        context = {
            "merge": merge,
            "preview": selectors.merge_undo_preview_for_user(merge=merge, user=request.user),
        }
        return render(request, "profiles/merge_undo_confirm.html", context)
    try:
        services.profile_merge_undo(merge=merge, user=request.user)
    except services.ProfilesError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Merge undone: profile {merge.loser_id} is separate from "
            f"profile {merge.winner_id} again.",
        )
    return redirect("profiles:detail", profile_id=merge.winner_id)


def _catalogue_query(request) -> str:
    """The catalogue page's filters as a query string, to come back to the same list."""
    kept = {
        name: request.POST.get(name) or request.GET.get(name, "")
        for name in ("class", "kind", "q", "page")
    }
    return urlencode({name: value for name, value in kept.items() if value})


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def data_catalogue(request):
    """The data catalogue: every field the data holds, its type and class, how it was
    classified; filter by class and kind, search, and confirm or change a class."""
    filters = {
        "classification": request.GET.get("class", ""),
        "kind": request.GET.get("kind", ""),
        "query": request.GET.get("q", "")[:200],
    }
    page = catalogue_selectors.data_field_list(**filters, page_number=request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "counts": catalogue_selectors.data_field_counts(),
        "classes": DataField.Classification.choices,
        "choosable": [c for c in DataField.Classification.choices if c[0] != "unknown"],
        "kinds": DataField.Kind.choices,
        "filter_query": urlencode(
            {
                name: value
                for name, value in (
                    ("class", filters["classification"]),
                    ("kind", filters["kind"]),
                    ("q", filters["query"]),
                )
                if value
            }
        ),
    }
    template = "profiles/data_catalogue.html"
    return render(request, template + "#fields" if request.htmx else template, context)


@role_required(Role.COMPLIANCE_OFFICER)
@require_POST
def data_field_classify(request, field_id: int):
    """Confirm or change one field's class (audited); back to the same page of the list."""
    field = catalogue_selectors.data_field_get(field_id)
    if field is None:
        raise Http404("No such field in the catalogue.")
    try:
        field = catalogue_services.data_field_classify(
            user=request.user, field=field, classification=request.POST.get("classification", "")
        )
    except InvalidInputError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"“{field.path or field.event}” is now {field.get_classification_display().lower()}.",
        )
    query = _catalogue_query(request)
    return redirect(reverse("profiles:data_catalogue") + (f"?{query}" if query else ""))
