"""The registry of connector classes, by key: each connector module registers its class.

A key names one source and at most one destination ("webhook" is both: the incoming webhook
source and the webhook destination), so a lookup may say which kind it wants; without `kind`,
the source is meant, as everywhere sources are looked up by their `kind` column.
"""

from cdp_site.errors import InvalidInputError

from .base import Connector

_connectors: dict[str, type[Connector]] = {}
# Destinations, by key (a destination may share its key with a source).
_destinations: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make the connector known by its `key` (within its kind)."""
    table = _destinations if cls.kind == "destination" else _connectors
    existing = table.get(cls.key)
    if existing is not None and existing is not cls:
        raise ValueError(f"Two connectors use the key {cls.key!r}.")
    table[cls.key] = cls
    return cls


def connector_class(key: str, kind: str | None = None) -> type[Connector]:
    """The connector registered under `key` (a source first, unless `kind` says "destination");
    InvalidInputError for an unknown one."""
    if kind == "destination":
        tables = (_destinations,)
    elif kind is None:
        tables = (_connectors, _destinations)
    else:
        tables = (_connectors,)
    for table in tables:
        cls = table.get(key)
        if cls is not None and (kind is None or cls.kind == kind):
            return cls
    raise InvalidInputError(f"There is no connector of kind “{key}”.", field="kind")


def connector_classes(kind: str | None = None) -> list[type[Connector]]:
    """The registered connectors (of one kind, "source" or "destination"), by label."""
    return sorted(
        (
            cls
            for cls in (*_connectors.values(), *_destinations.values())
            if kind is None or cls.kind == kind
        ),
        key=lambda cls: cls.label.lower(),
    )
