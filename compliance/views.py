"""Pages and htmx fragments of the compliance app."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cdp_site.roles import Role, role_required
from cdp_site.signals import personal_data_accessed
from profiles.models import Profile

from .consent import consent_state


@role_required(Role.MARKETER, Role.SUPPORT_AGENT, Role.COMPLIANCE_OFFICER)
@require_GET
def profile_consent(request, profile_id: int):
    """Fragment for the customer 360 page: consent in force per purpose, and its history."""
    if not Profile.objects.filter(pk=profile_id, merged_into__isnull=True).exists():
        raise Http404("No such profile.")
    state = consent_state(profile_id)
    personal_data_accessed.send(
        sender=Profile,
        user=request.user,
        profile_id=profile_id,
        action="consent.view",
        detail={"purposes": len(state)},
    )
    return render(
        request, "compliance/_profile_consent.html", {"profile_id": profile_id, "state": state}
    )
