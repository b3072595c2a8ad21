"""The retention page: the default period and each source's, the last run and the next."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cdp_site.errors import DomainError
from cdp_site.roles import Role, role_required
from cdp_site.source_names import source_names

from .models import RetentionPolicy, RetentionRun
from .retention import MAX_DAYS, PAST_EVERY_PERIOD, RUN_EVERY_SECONDS, retention_policy_set


class RetentionForm(forms.Form):
    source_id = forms.IntegerField(
        required=False, min_value=1, label="Source id", help_text="Empty: the default."
    )
    days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        label="Keep events for (days)",
        help_text="Empty: remove the period.",
    )


@role_required(Role.COMPLIANCE_OFFICER)
@require_http_methods(["GET", "POST"])
def retention(request):
    form = RetentionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            retention_policy_set(
                source_id=form.cleaned_data["source_id"], days=form.cleaned_data["days"]
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Retention period saved.")
            return redirect("compliance:retention")
    policies = list(RetentionPolicy.objects.order_by("source_id"))
    names = source_names(p.source_id for p in policies)
    last = RetentionRun.objects.first()
    return render(
        request,
        "compliance/retention.html",
        {
            "form": form,
            "policies": [
                (p, names.get(p.source_id, f"Source {p.source_id}") if p.source_id else "Default")
                for p in policies
            ],
            "last": last,
            "past_every_period": (last.detail or {}).get(PAST_EVERY_PERIOD) if last else None,
            "next_run": (last.started_at + dt.timedelta(seconds=RUN_EVERY_SECONDS))
            if last
            else None,
        },
    )
