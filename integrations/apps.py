"""App config for integrations."""

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    # Entries of the main navigation (cdp_site.navigation.NavItem); who sees each is read from
    # the view its URL resolves to.
    navigation = ()
