"""Admin site branding, the product's login limits, API tokens never shown whole, and people's
roles (group membership and superuser status) changed with an audit row."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .audit import AuditAction, audit_record
from .login_throttle import ThrottledAdminAuthenticationForm
from .models import ApiToken

admin.site.site_header = "Customer data platform administration"
admin.site.site_title = "CDP admin"
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    """DRF's token admin (users, creation, revoking), with the key shown by its start only."""

    list_display = ("key_start", "user", "created")

    @admin.display(description="Key")
    def key_start(self, obj) -> str:
        return str(obj)


admin.site.unregister(TokenProxy)


User = get_user_model()


class AuditedUserAdmin(UserAdmin):
    """Django's user admin; a change of someone's groups (their roles) or superuser status is
    recorded in the audit log with who made it."""

    def save_related(self, request, form, formsets, change):
        person = form.instance
        # Called after the user row is saved and before its groups are: these are the old ones.
        before = set(person.groups.values_list("name", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(person.groups.values_list("name", flat=True))
        superuser_changed = "is_superuser" in form.changed_data
        if before != after or superuser_changed:
            detail = {
                "person": person.get_username(),
                "added": sorted(after - before),
                "removed": sorted(before - after),
            }
            if superuser_changed:
                detail["superuser"] = person.is_superuser
            audit_record(
                user=request.user, action=AuditAction.ROLE_CHANGE, detail=detail, sender=User
            )


# Django's own registration (made when `django.contrib.auth.admin` was imported above) gives way.
admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
