"""App config for segments."""

from django.apps import AppConfig

from cdp_site.dashboard import DashboardPanel
from cdp_site.navigation import NavItem


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Segments"
    # Entries of the main navigation (cdp_site.navigation.NavItem); who sees each is read from
    # the view its URL resolves to.
    navigation = (
        NavItem(
            "Segments",
            "segments:list",
            order=30,
            description="Build audiences with a live count; see who is in them and why.",
        ),
        NavItem(
            "Journeys",
            "segments:funnel",
            order=35,
            description="Funnels and paths: where people drop out, and what they do next.",
        ),
    )

    dashboard = (DashboardPanel("Segments", "segments:dashboard", order=20),)

    def ready(self) -> None:
        from . import erasure

        # Its tables join the stores a data subject request erases and exports.
        erasure.register()
        from . import receivers

        receivers.connect()
