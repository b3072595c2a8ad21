"""App config for integrations: its navigation, and the names of sources for other apps."""

from django.apps import AppConfig

from cdp_site.dashboard import DashboardPanel
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
        NavItem(
            "Destinations",
            "integrations:destination_list",
            order=45,
            description="Where audiences and events go: health, dead letters, set-up.",
        ),
    )

    dashboard = (DashboardPanel("Sync health", "integrations:dashboard", order=30),)

    def ready(self):
        from . import erasure

        # Its tables join the stores a data subject request erases and exports.
        erasure.register()
        # `profiles` keeps plain source ids and reads their names through `cdp_site`.
        from cdp_site.source_names import source_names_provider_register

        from .selectors import source_names_by_id

        source_names_provider_register(source_names_by_id)

        # Real-time audience syncs follow the segments' membership changes.
        from .activation import realtime
        from .activation import tasks as _activation_tasks  # noqa: F401 (registers the tasks)

        realtime.connect()
