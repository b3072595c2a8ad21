"""App config for compliance."""

from django.apps import AppConfig

from cdp_site.dashboard import DashboardPanel
from cdp_site.navigation import NavItem


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"
    # Entries of the main navigation (cdp_site.navigation.NavItem); who sees each is read from
    # the view its URL resolves to.
    navigation = (
        NavItem(
            "Requests",
            "compliance:requests",
            order=45,
            description="Data subject requests: erasure, access, rectification, restriction.",
        ),
        NavItem(
            "Audit log",
            "compliance:audit_log",
            order=50,
            description="Who looked at or exported personal data, and when.",
        ),
    )

    dashboard = (DashboardPanel("Data subject requests", "compliance:dashboard", order=40),)

    def ready(self) -> None:
        from cdp_site.signals import suppressed_messages_dropped
        from profiles.signals import (
            events_resolved,
            profile_merge_undone,
            profiles_merged,
            profiles_rebuilt,
        )

        from . import consent, services  # noqa: F401  (records every personal_data_accessed signal)
        from .erasure import stores
        from .suppression import on_suppressed_messages_dropped

        # Consent records and the audit log join the stores a data subject request erases.
        stores.register()
        suppressed_messages_dropped.connect(
            on_suppressed_messages_dropped, dispatch_uid="compliance.suppressed_drops"
        )

        # Consent follows its person here, and only here: no other app writes it.
        events_resolved.connect(consent.on_events_resolved, dispatch_uid="compliance.consent")
        profiles_merged.connect(consent.on_profiles_merged, dispatch_uid="compliance.merged")
        profile_merge_undone.connect(
            consent.on_profile_merge_undone, dispatch_uid="compliance.merge_undone"
        )
        profiles_rebuilt.connect(consent.on_profiles_rebuilt, dispatch_uid="compliance.rebuilt")
