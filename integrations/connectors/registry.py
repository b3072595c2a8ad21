"""The registry of connector classes, by key: each connector module registers its class."""

from cdp_site.errors import InvalidInputError

from .base import Connector

_connectors: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make the connector known by its `key`."""
    existing = _connectors.get(cls.key)
    if existing is not None and existing is not cls:
        raise ValueError(f"Two connectors use the key {cls.key!r}.")
    _connectors[cls.key] = cls
    return cls


def connector_class(key: str) -> type[Connector]:
    """The connector registered under `key`; InvalidInputError for an unknown one."""
    try:
        return _connectors[key]
    except KeyError:
        raise InvalidInputError(f"There is no connector of kind “{key}”.", field="kind") from None


def connector_classes(kind: str | None = None) -> list[type[Connector]]:
    """The registered connectors (of one kind, "source" or "destination"), by label."""
    return sorted(
        (cls for cls in _connectors.values() if kind is None or cls.kind == kind),
        key=lambda cls: cls.label.lower(),
    )
