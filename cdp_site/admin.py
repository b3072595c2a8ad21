"""Admin site branding, and the same login limits as the product's login."""

from django.contrib import admin

from .login_throttle import ThrottledAdminAuthenticationForm

admin.site.site_header = "Customer data platform administration"
admin.site.site_title = "CDP admin"
admin.site.login_form = ThrottledAdminAuthenticationForm
