"""The main navigation, assembled from what each app declares in its AppConfig.

An app lists `navigation = (NavItem(...), ...)` on its AppConfig. Who sees an item is not written
twice: it is read from the `allowed_roles` of the view the item's URL resolves to.
"""

from dataclasses import dataclass

from django.apps import apps
from django.urls import resolve, reverse

from .roles import ALL_ROLES, user_roles


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    order: int = 100
    # One line on the home page's tile: what people do there.
    description: str = ""

    @property
    def url(self) -> str:
        return reverse(self.url_name)

    @property
    def allowed_roles(self) -> frozenset:
        view = resolve(self.url).func
        return getattr(view, "allowed_roles", frozenset(ALL_ROLES))


def nav_items_all() -> list[NavItem]:
    items = [
        item for config in apps.get_app_configs() for item in getattr(config, "navigation", ())
    ]
    return sorted(items, key=lambda item: (item.order, item.label))


def nav_items_for_user(user) -> list[NavItem]:
    roles = user_roles(user)
    return [item for item in nav_items_all() if roles & item.allowed_roles]
