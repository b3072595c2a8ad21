"""Django admin for the identity rules (per identifier kind: limit, priority, blocked values).

The rules are read once per resolution run; a change applies to events resolved from then on,
and `manage.py rebuild` applies it to the history.
"""

from django.contrib import admin

from .forms import IdentityRuleForm
from .identity_rules import identity_rule_save
from .models import IdentityRule, IdentitySplit, IdentitySplitMember


@admin.register(IdentityRule)
class IdentityRuleAdmin(admin.ModelAdmin):
    form = IdentityRuleForm
    list_display = ("kind", "limit", "priority", "blocked_values")
    ordering = ("priority", "kind")

    def save_model(self, request, obj, form, change):
        # Through the service, so the change is audited and the rebuild notice shows.
        identity_rule_save(user=request.user, rule=obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # A rule goes back to the defaults by editing it, so that every change is audited and
        # stamped for the rebuild notice.
        return False


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
