"""App config for profiles."""

from django.apps import AppConfig

from cdp_site.dashboard import DashboardPanel
from cdp_site.navigation import NavItem


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = "Profiles"
    # Entries of the main navigation (cdp_site.navigation.NavItem); who sees each is read from
    # the view its URL resolves to.
    navigation = (
        NavItem(
            "Customers",
            "profiles:search",
            order=20,
            description="Find a customer by any identifier or name; their 360 and timeline.",
        ),
        NavItem(
            "Computed traits",
            "profiles:computed_trait_list",
            order=37,
            description="Values computed from each customer's events, usable in segments.",
        ),
        NavItem(
            "Scores",
            "profiles:rfm",
            order=25,
            description="RFM groups of customers and the churn risk model, with its quality.",
        ),
        NavItem(
            "Data catalogue",
            "profiles:data_catalogue",
            order=48,
            description="Every field the data holds and its class: personal, sensitive or not.",
        ),
    )

    # Panels of the home dashboard (cdp_site.dashboard.DashboardPanel), shown to the roles of
    # the fragment's view.
    dashboard = (DashboardPanel("Customers and events", "profiles:dashboard", order=10),)

    def ready(self) -> None:
        from . import erasure, receivers
        from .catalogue import receivers as catalogue_receivers

        # Its tables join the stores a data subject request erases and exports.
        erasure.register()
        # The data catalogue learns each resolved batch's new fields, and fills at worker start.
        catalogue_receivers.connect()
        # Event aggregates and computed traits follow resolution, merges and undos.
        receivers.connect()
