"""Forms of the integrations pages."""

from django import forms

from .models import Source
from .services import KEY_GRACE_CHOICES, KEY_GRACE_DEFAULT_HOURS


class SourceForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="For people: where the data comes from.")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the source a name.")
        if Source.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A source with this name already exists.")
        return name


class SourceEnabledForm(forms.Form):
    enabled = forms.BooleanField(required=False)


class QuarantineReplayForm(forms.Form):
    # Empty: replay every waiting message of the source.
    entry = forms.IntegerField(required=False, min_value=1)


class KeyRotateForm(forms.Form):
    grace_hours = forms.TypedChoiceField(
        coerce=int,
        choices=[(hours, label) for hours, label in KEY_GRACE_CHOICES.items()],
        initial=KEY_GRACE_DEFAULT_HOURS,
        label="The old key keeps working for",
        error_messages={"invalid_choice": "Choose how long the old key keeps working."},
    )


class QuarantineDiscardForm(forms.Form):
    entry = forms.IntegerField(min_value=1, max_value=2**63 - 1)
