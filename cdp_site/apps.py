"""App config for the project package: roles, navigation and the page shell live here."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from .navigation import NavItem


def _sync_roles(sender, apps=None, **_kwargs):
    from django.apps import apps as global_apps

    from .roles import role_permissions_sync

    # `flush` (used between transactional tests) sends the signal without an app registry.
    registry = apps or global_apps
    role_permissions_sync(
        registry.get_model("auth", "Group"), registry.get_model("auth", "Permission")
    )


class CdpSiteConfig(AppConfig):
    name = "cdp_site"
    label = "cdp_site"
    verbose_name = "Customer data platform"
    navigation = (
        NavItem("Home", "home", order=0),
        NavItem(
            "System",
            "system_status",
            order=900,
            description="Check that the background worker answers.",
        ),
    )

    def ready(self) -> None:
        from . import signals  # noqa: F401  (defines the project-wide signals)

        # After every migrate, so permissions of models added later reach their roles.
        post_migrate.connect(_sync_roles, dispatch_uid="cdp_site.sync_roles")
