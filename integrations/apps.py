"""App config for integrations."""

from django.apps import AppConfig

from cdp_site.navigation import NavItem


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    # Entries of the main navigation (cdp_site.navigation.NavItem); who sees each is read from
    # the view its URL resolves to.
    navigation = (
        NavItem(
            "Sources",
            "integrations:source_list",
            order=40,
            description="Write keys and snippets, the live debugger and the quarantine.",
        ),
    )
