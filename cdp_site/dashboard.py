"""The home dashboard: panels each app declares, and the cached aggregates behind them.

An app lists `dashboard = (DashboardPanel(...), ...)` on its AppConfig; the home page loads each
panel the person's roles allow as an htmx fragment served by that app (as the customer 360 loads
its fragments), so `cdp_site` imports no app. Who sees a panel is read from the `allowed_roles` of
the fragment's view, so it is written once.

The numbers behind a panel are computed by the app's worker task and kept here
(`DashboardAggregate`): a panel reads one row, whatever the size of the data, and says "as of".
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.urls import resolve, reverse
from django.utils import timezone

from .roles import ALL_ROLES, user_roles


@dataclass(frozen=True)
class DashboardPanel:
    title: str
    url_name: str
    order: int = 100

    @property
    def url(self) -> str:
        return reverse(self.url_name)

    @property
    def allowed_roles(self) -> frozenset:
        view = resolve(self.url).func
        return getattr(view, "allowed_roles", frozenset(ALL_ROLES))


def dashboard_panels_for_user(user) -> list[DashboardPanel]:
    panels = [
        panel for config in apps.get_app_configs() for panel in getattr(config, "dashboard", ())
    ]
    roles = user_roles(user)
    return sorted(
        (panel for panel in panels if roles & panel.allowed_roles),
        key=lambda panel: (panel.order, panel.title),
    )


def dashboard_aggregate_refresh(*, key: str, compute: Callable[[], dict]) -> None:
    """Compute one panel's numbers and keep them (replacing the previous ones)."""
    # Imported here: app configs import this module for `DashboardPanel` before models load.
    from .models import DashboardAggregate

    started = time.monotonic()
    value = compute()
    DashboardAggregate.objects.update_or_create(
        key=key,
        defaults={
            "value": value,
            "computed_at": timezone.now(),
            "duration_ms": round((time.monotonic() - started) * 1000),
        },
    )


@dataclass(frozen=True)
class Aggregate:
    value: dict
    computed_at: dt.datetime


def dashboard_aggregate(key: str) -> Aggregate | None:
    """The kept numbers of a panel, or None before the worker first computed them."""
    from .models import DashboardAggregate

    row = DashboardAggregate.objects.filter(key=key).first()
    return None if row is None else Aggregate(row.value, row.computed_at)
