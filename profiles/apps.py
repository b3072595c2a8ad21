"""App config for profiles."""

from django.apps import AppConfig

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
            "Data catalogue",
            "profiles:data_catalogue",
            order=48,
            description="Every field the data holds and its class: personal, sensitive or not.",
        ),
    )

    def ready(self) -> None:
        from . import erasure
        from .catalogue import receivers

        # Its tables join the stores a data subject request erases and exports.
        erasure.register()
        # The data catalogue learns each resolved batch's new fields, and fills at worker start.
        receivers.connect()
