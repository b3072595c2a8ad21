"""Django admin for sources and the quarantine (the product's own pages are the main way in)."""

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from cdp_site.errors import InUseError

from .models import QuarantinedMessage, Source, SyncRun
from .services import source_delete, source_delete_check


@admin.register(Source)
class SourceAdmin(GuardedModelAdmin):
    list_display = ("name", "kind", "enabled", "created_by", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    readonly_fields = ("write_key", "created_at", "checkpoint")
    # Secrets are changed in the product's pages only, where they are never shown back.
    exclude = ("secrets_encrypted",)

    # Events hold a plain source id, so the delete collector cannot see them: a source with
    # events is listed as protected (the admin then refuses, as for any protected object), and
    # deletes go through the service, which checks again.
    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        for source in objs:
            try:
                source_delete_check(source=source)
            except InUseError as problem:
                protected.append(problem.message)
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        source_delete(source=obj)

    def delete_queryset(self, request, queryset):
        for source in queryset:
            source_delete(source=source)


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


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Runs, read-only: they are started, cancelled and retried in the product's pages."""

    list_display = ("pk", "source", "status", "trigger", "records_stored", "created_at")
    list_filter = ("status", "trigger")
    readonly_fields = [field.name for field in SyncRun._meta.fields]

    def has_add_permission(self, request):
        return False
