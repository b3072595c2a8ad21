"""Pages of consent purposes (list, create, edit) and the consent overview: compliance officers."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from cdp_site.errors import DomainError
from cdp_site.roles import Role, role_required

from .consent_overview import consent_overview, consent_trend, consent_trend_figure
from .models import ConsentPurpose
from .purposes import MAX_DESCRIPTION, purpose_create, purpose_in_use, purpose_update


class PurposeForm(forms.Form):
    key = forms.CharField(
        max_length=64,
        help_text="How events and the API name it, e.g. email_marketing. "
        "Fixed once consent records use it.",
    )
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 3})
    )
    legal_basis = forms.ChoiceField(
        choices=ConsentPurpose.LegalBasis.choices, initial=ConsentPurpose.LegalBasis.CONSENT
    )


def _save(request, form, save):
    """Run `save(**cleaned)`; a refusal is shown on its field. True when saved."""
    if request.method != "POST" or not form.is_valid():
        return False
    try:
        save(**form.cleaned_data)
    except DomainError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return False
    return True


@role_required(Role.COMPLIANCE_OFFICER)
@require_http_methods(["GET", "POST"])
def purpose_list(request):
    """Every purpose with its legal basis, and the form to add one."""
    form = PurposeForm(request.POST or None)
    if _save(request, form, lambda **values: purpose_create(user=request.user, **values)):
        messages.success(request, f"Purpose “{form.cleaned_data['name']}” created.")
        return redirect("compliance:purposes")
    return render(
        request,
        "compliance/purpose_list.html",
        {"purposes": ConsentPurpose.objects.order_by("name"), "form": form},
    )


@role_required(Role.COMPLIANCE_OFFICER)
@require_http_methods(["GET", "POST"])
def purpose_edit(request, key: str):
    purpose = get_object_or_404(ConsentPurpose, key=key)
    in_use = purpose_in_use(purpose)
    initial = {f: getattr(purpose, f) for f in ("key", "name", "description", "legal_basis")}
    form = PurposeForm(request.POST or None, initial=initial)
    if in_use:
        # Shown fixed; the service refuses a changed key all the same.
        form.fields["key"].disabled = True
    if _save(
        request,
        form,
        lambda **values: purpose_update(user=request.user, purpose=purpose, **values),
    ):
        messages.success(request, "Purpose saved.")
        return redirect("compliance:purposes")
    return render(
        request,
        "compliance/purpose_edit.html",
        {"purpose": purpose, "form": form, "in_use": in_use},
    )


@role_required(Role.COMPLIANCE_OFFICER)
@require_GET
def consent_overview_page(request):
    """Per purpose: granted, withdrawn, never answered; and the weekly trend of one or all."""
    overview = consent_overview()
    chosen = None
    key = request.GET.get("purpose", "")
    if key:
        chosen = ConsentPurpose.objects.filter(key=key[:64]).first()
    trend = consent_trend(purpose=chosen)
    return render(
        request,
        "compliance/consent_overview.html",
        {
            "overview": overview,
            "chosen": chosen,
            "unknown_purpose": bool(key) and chosen is None,
            "trend_figure": consent_trend_figure(trend),
            "has_trend": any(trend["granted"]) or any(trend["withdrawn"]),
        },
    )
