"""Admin site branding."""

from django.contrib import admin

admin.site.site_header = "Customer data platform administration"
admin.site.site_title = "CDP admin"
