"""Admin site branding, the product's login limits, and API tokens never shown whole."""

from django.contrib import admin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

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
