"""App config for compliance."""

from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"
    # Entries of the main navigation (cdp_site.navigation.NavItem); who sees each is read from
    # the view its URL resolves to.
    navigation = ()

    def ready(self) -> None:
        from profiles.signals import events_resolved

        from . import consent, services  # noqa: F401  (records every personal_data_accessed signal)

        events_resolved.connect(consent.on_events_resolved, dispatch_uid="compliance.consent")
