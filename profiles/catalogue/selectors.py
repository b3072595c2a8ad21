"""Reads of the data catalogue: which fields are known to be safe (cached briefly per process),
the catalogue page's list, and the builder's suggestions for a person.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q

from ..masking import can_view_personal_data
from ..models import DataField, Event, Profile

# How long a process trusts what it read of the catalogue. A field a scan learns is masked
# until it is read (unknown is masked), so this only delays showing, and a change a person makes
# in this process is seen at once.
CLASSES_CACHE_SECONDS = 10.0
PAGE_SIZE = 50

_lock = threading.Lock()
_cached: tuple[float, frozenset] | None = None


@dataclass(frozen=True)
class ShownFields:
    """The fields classified not personal: the only ones shown to people who see masked data."""

    keys: frozenset

    def shown(self, kind: str, path: str, event: str = "") -> bool:
        return (kind, event if kind == DataField.Kind.PROPERTY else "", path) in self.keys


def field_classes_forget() -> None:
    """Drop this process's copy, after the catalogue changed here."""
    global _cached
    with _lock:
        _cached = None


def _fill_if_empty() -> bool:
    """On use of an empty catalogue with data to learn from (a fresh install whose worker has
    not scanned yet), ask the worker for a scan now; until it is done every field is masked.
    Returns whether a scan was asked for."""
    if DataField.objects.exists() or not (Profile.objects.exists() or Event.objects.exists()):
        return False
    from cdp_site.celery import task_publish

    from ..tasks import catalogue_refresh_task

    task_publish(catalogue_refresh_task)
    return True


def _read() -> tuple[bool, frozenset]:
    """One query: whether the catalogue holds anything, and the fields not personal."""
    rows = list(DataField.objects.values_list("kind", "event", "path", "classification"))
    shown = frozenset(
        (kind, event, path)
        for kind, event, path, classification in rows
        if classification == DataField.Classification.NOT_PERSONAL
    )
    return bool(rows), shown


def shown_fields() -> ShownFields:
    """The fields known to be safe to show, read at most every few seconds per process (one
    query); an empty catalogue is asked to be filled."""
    global _cached
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached[0] < CLASSES_CACHE_SECONDS:
        return ShownFields(cached[1])
    filled, keys = _read()
    if not filled and _fill_if_empty():
        filled, keys = _read()
    with _lock:
        _cached = (now, keys)
    return ShownFields(keys)


def field_shown(kind: str, path: str, event: str = "") -> bool:
    """Whether a field's values are shown to people who see masked data."""
    return shown_fields().shown(kind, path, event)


def data_field_list(
    *, classification: str = "", kind: str = "", query: str = "", page_number: str | None = None
) -> Page:
    """The catalogue page's rows: filtered by class, kind and a search of path and event."""
    rows = DataField.objects.all()
    if classification in DataField.Classification.values:
        rows = rows.filter(classification=classification)
    if kind in DataField.Kind.values:
        rows = rows.filter(kind=kind)
    query = query.strip()
    if query:
        rows = rows.filter(Q(path__icontains=query) | Q(event__icontains=query))
    rows = rows.order_by("kind", "event", "path")
    return Paginator(rows, PAGE_SIZE).get_page(page_number)


def data_field_get(pk: int) -> DataField | None:
    return DataField.objects.filter(pk=pk).first()


def data_field_counts() -> dict[str, int]:
    """How many fields each class holds."""
    from django.db.models import Count

    counts = dict(
        DataField.objects.values_list("classification").annotate(n=Count("id")).order_by()
    )
    return {value: counts.get(value, 0) for value in DataField.Classification.values}


def builder_fields() -> dict:
    """The builder's field choices: trait paths, event names, each event's property paths."""
    traits, events, properties = [], [], {}
    _fill_if_empty()
    for row in DataField.objects.exclude(kind=DataField.Kind.CONTEXT).order_by(
        "kind", "event", "path"
    ):
        if row.kind == DataField.Kind.TRAIT:
            traits.append(row)
        elif row.kind == DataField.Kind.EVENT:
            events.append(row)
        else:
            properties.setdefault(row.event, []).append(row)
    return {"traits": traits, "events": events, "properties": properties}


def field_values_for_user(*, user, kind: str, path: str, event: str = "") -> list[dict]:
    """The common values of one field, for the builder's suggestions: none for a field not
    classified not personal unless `user` may see personal data (and the catalogue keeps values
    only of fields not personal, so it has none to give of the others anyway)."""
    if kind not in (DataField.Kind.TRAIT, DataField.Kind.PROPERTY):
        return []
    row = (
        DataField.objects.filter(
            kind=kind, path=path, event=event if kind == DataField.Kind.PROPERTY else ""
        )
        .only("classification", "common_values")
        .first()
    )
    if row is None:
        return []
    if not row.shown_masked_roles and not can_view_personal_data(user):
        return []
    return [{"value": value, "count": count} for value, count in row.common_values]


def common_values_for_user(*, user, fields: set[tuple[str, str, str]]) -> dict[tuple, list[str]]:
    """For many (kind, event, path) at once (one query), the common values `user` may be
    offered: those of fields classified not personal, or of any field for people who see
    personal data."""
    wanted = {
        (kind, event if kind == DataField.Kind.PROPERTY else "", path)
        for kind, event, path in fields
        if kind in (DataField.Kind.TRAIT, DataField.Kind.PROPERTY) and path
    }
    if not wanted:
        return {}
    condition = Q()
    for kind, event, path in wanted:
        condition |= Q(kind=kind, event=event, path=path)
    rows = DataField.objects.filter(condition).only(
        "kind", "event", "path", "classification", "common_values"
    )
    full = can_view_personal_data(user)
    return {
        (row.kind, row.event, row.path): [str(value) for value, _count in row.common_values]
        for row in rows
        if full or row.shown_masked_roles
    }
