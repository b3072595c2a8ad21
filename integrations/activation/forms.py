"""Forms of the activation pages: a destination's settings (built from its connector's fields),
an audience sync, a pause."""

from django import forms

from cdp_site.errors import InvalidInputError

from ..connectors.base import Connector
from ..models import AudienceSync

DEFAULT_MAPPING = (
    "email = identifier:email\nfirst_name = trait:first_name\nlast_name = trait:last_name"
)


def mapping_parse(text: str) -> dict:
    """“field = trait:key” lines -> {field: "trait:key"}; InvalidInputError on a bad line."""
    mapping = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        field, sep, spec = line.partition("=")
        if not sep:
            raise InvalidInputError(
                f"Line {number}: write “destination field = trait:key” or “= identifier:email”.",
                field="field_mapping",
            )
        mapping[field.strip()] = spec.strip()
    return mapping


def mapping_text(mapping: dict) -> str:
    return "\n".join(f"{field} = {spec}" for field, spec in mapping.items())


class DestinationForm(forms.Form):
    """The name and one field per `ConfigField`; secrets are password inputs, never filled."""

    name = forms.CharField(max_length=200)

    def __init__(self, *args, connector: type[Connector], initial_config=None, editing=False, **kw):
        super().__init__(*args, **kw)
        initial_config = initial_config or {}
        for spec in connector.fields:
            help_text = spec.help_text
            if spec.is_secret:
                field = forms.CharField(
                    widget=forms.PasswordInput(render_value=False), required=False
                )
                if editing:
                    help_text = (help_text + " Leave blank to keep the stored value.").strip()
            elif spec.kind == "boolean":
                field = forms.BooleanField(required=False)
            elif spec.kind == "choice":
                field = forms.ChoiceField(choices=spec.choices, required=spec.required)
            elif spec.kind in ("textarea", "json"):
                field = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
            elif spec.kind == "integer":
                field = forms.IntegerField(required=False)
            else:
                field = forms.CharField(required=False)
            field.label = spec.label
            field.help_text = help_text
            if not spec.is_secret:
                field.initial = initial_config.get(spec.name, spec.default)
            self.fields[f"cfg_{spec.name}"] = field

    def values(self) -> dict:
        return {
            name.removeprefix("cfg_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("cfg_")
        }


class AudienceSyncForm(forms.Form):
    destination = forms.IntegerField(widget=forms.HiddenInput, required=False)
    field_mapping = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        initial=DEFAULT_MAPPING,
        help_text="One line per field: “destination field = trait:key” or “= identifier:email”.",
    )
    consent_purpose = forms.CharField(required=False)
    mode = forms.ChoiceField(choices=AudienceSync.Mode.choices, initial=AudienceSync.Mode.MANUAL)
    interval_minutes = forms.IntegerField(required=False, min_value=5, initial=60)


class PauseForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)


class EventForwardForm(forms.Form):
    """Which events a destination receives: sources, types and names (none chosen = every one)."""

    source_ids = forms.TypedMultipleChoiceField(
        label="Sources",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: events of every source.",
    )
    types = forms.MultipleChoiceField(
        label="Types",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )
    names = forms.CharField(
        label="Event or page names",
        required=False,
        max_length=5000,
        help_text="One per line, e.g. “Order Completed”. Empty: every name.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    history = forms.BooleanField(
        label="Also send the events already stored",
        required=False,
        initial=False,
        help_text="Unticked: only events stored from now on.",
    )

    def __init__(self, *args, sources=(), types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source_ids"].choices = [(source.pk, source.name) for source in sources]
        self.fields["types"].choices = [(value, value) for value in types]

    def names_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["names"].splitlines() if line.strip()]
