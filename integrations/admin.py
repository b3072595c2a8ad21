"""Django admin for sources and the quarantine (the product's own pages are the main way in)."""

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import QuarantinedMessage, Source


@admin.register(Source)
class SourceAdmin(GuardedModelAdmin):
    list_display = ("name", "kind", "enabled", "created_by", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    readonly_fields = ("write_key", "created_at")


@admin.register(QuarantinedMessage)
class QuarantinedMessageAdmin(admin.ModelAdmin):
    """What failed and why. The messages themselves carry personal data: they are read in the
    product's quarantine pages, where each opening is written to the audit log."""

    list_display = ("source", "code", "reason", "status", "received_at")
    list_filter = ("status", "code", "source")
    fields = readonly_fields = (
        "source",
        "index",
        "code",
        "reason",
        "received_at",
        "status",
        "replayed_at",
        "replayed_by",
    )

    def has_add_permission(self, request):
        return False
