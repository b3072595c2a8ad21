"""The home dashboard's customers panel: totals, events per day by source, new profiles."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cdp_site.dashboard import dashboard_aggregate
from cdp_site.roles import ALL_ROLES, PROFILE_READERS, Role, role_required, user_has_role

from . import charts
from .dashboard import AGGREGATE_KEY


@role_required(*ALL_ROLES)
@require_GET
def dashboard_panel(request):
    aggregate = dashboard_aggregate(AGGREGATE_KEY)
    reader = user_has_role(request.user, PROFILE_READERS)
    admin = user_has_role(request.user, [Role.INTEGRATION_ADMIN])
    context = {"aggregate": aggregate, "reader": reader, "admin": admin}
    if aggregate is not None:
        value = aggregate.value
        links = (
            {
                row["source_id"]: reverse("integrations:source_detail", args=[row["source_id"]])
                for row in value["events_per_day"]
            }
            if admin
            else None
        )
        context.update(
            {
                "value": value,
                "events_figure": charts.events_per_day_figure(
                    value["events_per_day"], value["source_names"], link_of=links
                ),
                "profiles_figure": charts.new_profiles_weekly_figure(
                    value["new_profiles_per_week"],
                    link=reverse("profiles:search") if reader else None,
                ),
            }
        )
    return render(request, "profiles/_dashboard.html", context)
