"""Forms of the profiles app: an identity rule (per identifier kind: limit, priority, blocked
values), as the identity rules page and the Django admin edit it."""

import re

from django import forms

from .models import IdentityRule

KIND_MAX = IdentityRule._meta.get_field("kind").max_length


class IdentityRuleForm(forms.ModelForm):
    blocked_values = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "One regular expression per line, matched against the whole normalised value in any "
            "case, on top of the values always blocked (^[0-]*$, -1, null, anonymous, undefined, "
            "none, empty)."
        ),
    )

    class Meta:
        model = IdentityRule
        fields = ("kind", "limit", "priority", "blocked_values")
        help_texts = {
            "kind": "The identifier kind: user_id, email, phone, anonymous_id or any other id "
            "your sources send.",
            "limit": "How many identifiers of this kind one profile may hold. A new one beyond "
            "the limit starts a separate profile instead of merging (1 for user ids: a shared "
            "device must not glue two accounts together).",
            "priority": "Lower numbers win: when an event would break a limit, its identifier "
            "with the highest number is dropped first.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["blocked_values"] = "\n".join(self.instance.blocked_values or [])

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"].strip()
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", kind):
            raise forms.ValidationError(
                "Use letters, digits, dots, dashes and underscores only (as in “email”)."
            )
        return kind

    def clean_limit(self) -> int:
        limit = self.cleaned_data["limit"]
        if limit < 1:
            raise forms.ValidationError("A profile must be allowed at least one identifier.")
        if limit > 1000:
            raise forms.ValidationError("A limit is at most 1,000.")
        return limit

    def clean_priority(self) -> int:
        priority = self.cleaned_data["priority"]
        if priority > 1_000_000:
            raise forms.ValidationError("A priority is at most 1,000,000.")
        return priority

    def clean_blocked_values(self) -> list[str]:
        patterns = [line.strip() for line in self.cleaned_data["blocked_values"].splitlines()]
        patterns = [p for p in patterns if p]
        if len(patterns) > 100:
            raise forms.ValidationError("At most 100 blocked values per kind.")
        for pattern in patterns:
            if len(pattern) > 500:
                raise forms.ValidationError("A blocked value has at most 500 characters.")
            try:
                re.compile(pattern)
            except re.error as error:
                raise forms.ValidationError(
                    f"“{pattern}” is not a regular expression: {error}."
                ) from None
        return patterns
