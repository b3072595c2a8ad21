"""Pages and htmx fragments of the segments app."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from cdp_site.roles import Role, role_required

from .compiler import explain
from .selectors import (
    profile_get_active,
    profile_memberships,
    segment_definition_lookup,
    segment_get_for_user,
    segment_list_for_user,
)

PROFILE_ROLES = (Role.MARKETER, Role.SUPPORT_AGENT, Role.COMPLIANCE_OFFICER)


@role_required(*PROFILE_ROLES)
@require_GET
def profile_segments(request, profile_id: int):
    """Fragment for the customer 360 page: the profile's segments, with "why?" for each."""
    profile = profile_get_active(profile_id)
    memberships = list(profile_memberships(profile.pk))
    visible = set(segment_list_for_user(request.user).values_list("pk", flat=True))
    current, past = [], []
    for membership in memberships:
        row = {
            "membership": membership,
            "segment": membership.segment,
            "linked": membership.segment_id in visible,
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


@role_required(Role.MARKETER)
@require_GET
def segment_detail(request, segment_id: int):
    segment = segment_get_for_user(request.user, segment_id)
    return render(request, "segments/segment_detail.html", {"segment": segment})
