"""Django admin for the identity rules (per identifier kind: limit, priority, blocked values).

The rules are read once per resolution run; a change applies to events resolved from then on,
and `manage.py rebuild` applies it to the history.
"""

import re

from django import forms
from django.contrib import admin

from .models import IdentityRule, IdentitySplit, IdentitySplitMember


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["blocked_values"] = "\n".join(self.instance.blocked_values or [])

    def clean_kind(self) -> str:
        return self.cleaned_data["kind"].strip()

    def clean_limit(self) -> int:
        limit = self.cleaned_data["limit"]
        if limit < 1:
            raise forms.ValidationError("A profile must be allowed at least one identifier.")
        return limit

    def clean_blocked_values(self) -> list[str]:
        patterns = [line.strip() for line in self.cleaned_data["blocked_values"].splitlines()]
        patterns = [p for p in patterns if p]
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise forms.ValidationError(
                    f"“{pattern}” is not a regular expression: {error}."
                ) from None
        return patterns


@admin.register(IdentityRule)
class IdentityRuleAdmin(admin.ModelAdmin):
    form = IdentityRuleForm
    list_display = ("kind", "limit", "priority", "blocked_values")
    ordering = ("priority", "kind")


class IdentitySplitMemberInline(admin.TabularInline):
    model = IdentitySplitMember
    extra = 0
    can_delete = False
    readonly_fields = ("side", "kind", "value")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IdentitySplit)
class IdentitySplitAdmin(admin.ModelAdmin):
    """Splits are made by undoing a merge on the profile page; here they can be read or removed."""

    list_display = ("id", "merge", "made_by", "made_at")
    readonly_fields = ("merge", "made_by", "made_at")
    inlines = [IdentitySplitMemberInline]

    def has_add_permission(self, request):
        return False
