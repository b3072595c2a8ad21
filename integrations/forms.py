"""Forms of the integrations pages."""

from django import forms

from .models import Source


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
