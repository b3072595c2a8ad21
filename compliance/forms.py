"""Forms of the compliance pages: log a request, extend its deadline, reject it, assign it."""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from cdp_site.roles import Role

from .models import DataSubjectRequest

IDENTIFIER_FIELDS = ("email", "phone", "user_id", "anonymous_id")


def officers():
    """People who may be assigned a request: compliance officers and superusers."""
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(groups__name=Role.COMPLIANCE_OFFICER.value) | users.filter(
        is_superuser=True
    )


class RequestForm(forms.Form):
    type = forms.ChoiceField(choices=DataSubjectRequest.Type.choices)
    channel = forms.ChoiceField(choices=DataSubjectRequest.Channel.choices)
    received_on = forms.DateField(
        initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )
    email = forms.CharField(required=False, max_length=512, label="E-mail")
    phone = forms.CharField(required=False, max_length=64)
    user_id = forms.CharField(required=False, max_length=255, label="User id")
    anonymous_id = forms.CharField(required=False, max_length=255, label="Anonymous id")
    other_kind = forms.CharField(required=False, max_length=64, label="Other identifier kind")
    other_value = forms.CharField(required=False, max_length=512, label="Other identifier value")
    assignee = forms.ModelChoiceField(queryset=officers(), required=False)
    trait = forms.CharField(required=False, max_length=200, help_text="Rectification only.")
    value = forms.CharField(required=False, max_length=2000, label="Corrected value")
    reason = forms.CharField(required=False, max_length=2000, label="Reason for the correction")
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = officers().distinct().order_by("username")

    def identifiers(self) -> dict[str, str]:
        data = self.cleaned_data
        found = {name: data[name] for name in IDENTIFIER_FIELDS if data.get(name, "").strip()}
        if data.get("other_kind", "").strip() and data.get("other_value", "").strip():
            found[data["other_kind"]] = data["other_value"]
        return found

    def details(self) -> dict:
        data = self.cleaned_data
        return {"trait": data["trait"], "value": data["value"], "reason": data["reason"]}


class ExtendForm(forms.Form):
    months = forms.TypedChoiceField(choices=[(1, "1 month"), (2, "2 months")], coerce=int)
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    told_on = forms.DateField(
        label="Person told on",
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=officers(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = officers().distinct().order_by("username")


class QueueFilterForm(forms.Form):
    type = forms.ChoiceField(
        choices=[("", "Any type"), *DataSubjectRequest.Type.choices], required=False
    )
    status = forms.ChoiceField(
        choices=[("", "Open"), ("all", "Any status"), *DataSubjectRequest.Status.choices],
        required=False,
    )
    assignee = forms.CharField(required=False, max_length=150)


def today() -> dt.date:
    return timezone.localdate()
