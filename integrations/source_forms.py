"""Forms of connector sources: the settings form built from a connector's `fields`, and the
schedule form. The forms only shape the page; the services validate (and say which field is
wrong), so the page and the API refuse the same things with the same words."""

from django import forms

from .connectors.base import ConfigField, Connector
from .models import Source

KEEP_BLANK_HELP = "Stored encrypted and not shown. Leave blank to keep the current one."


def _form_field(spec: ConfigField, *, editing: bool) -> forms.Field:
    common = {"label": spec.label, "help_text": spec.help_text, "required": spec.required}
    if spec.kind == "integer":
        return forms.IntegerField(**common, initial=spec.default)
    if spec.kind == "boolean":
        return forms.BooleanField(**{**common, "required": False}, initial=bool(spec.default))
    if spec.kind == "choice":
        return forms.ChoiceField(**common, choices=spec.choices, initial=spec.default)
    if spec.kind in ("textarea", "json"):
        return forms.CharField(**common, widget=forms.Textarea(attrs={"rows": 4}), strip=False)
    if spec.kind == "secret":
        # Never rendered back, not even after an error: a secret is only ever replaced.
        return forms.CharField(
            label=spec.label,
            required=spec.required and not editing,
            help_text=KEEP_BLANK_HELP if editing else spec.help_text,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            strip=False,
        )
    if spec.kind == "url":
        return forms.CharField(**common, initial=spec.default, widget=forms.URLInput)
    return forms.CharField(**common, initial=spec.default)


def connector_form_class(cls: type[Connector], *, editing: bool = False) -> type[forms.Form]:
    """A form with a name and one field per connector setting, in the connector's order."""
    attrs: dict[str, forms.Field] = {
        "name": forms.CharField(max_length=200, help_text="For people: where the data comes from.")
    }
    for spec in cls.fields:
        attrs[spec.name] = _form_field(spec, editing=editing)
    return type(f"{cls.__name__}Form", (forms.Form,), attrs)


def connector_form_initial(source: Source) -> dict:
    """A saved source's settings as the form's initial values (secrets left out)."""
    return {"name": source.name, **source.config}


class ScheduleForm(forms.Form):
    schedule = forms.ChoiceField(choices=Source.Schedule.choices)
    every_minutes = forms.IntegerField(
        required=False, min_value=5, max_value=7 * 24 * 60, label="Every (minutes)"
    )
    at = forms.TimeField(required=False, label="Daily at (UTC)", help_text="HH:MM")
