"""The contract between the engine and the apps: one `ConfigSection` per kind of object.

A section exports its objects as plain mappings keyed by a natural key (a name, a key, never a
database id), normalises and checks the file's mappings into the same shape, and applies the
engine's plan to its own tables. Sections are found the way Django finds admin modules: each
installed app's `config` module registers its sections when imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class Problem:
    """Something wrong in the file, at `path` (`segments[2].definition.conditions.0.trait`)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class Context:
    """What a section may know about the rest of the file while checking its own part."""

    def __init__(self, document: dict, *, prune: bool, stored_keys: Callable[[str], set[str]]):
        self.document = document
        self.prune = prune
        self._stored_keys = stored_keys
        self._keys: dict[str, set[str]] = {}

    def file_keys(self, section: str) -> set[str]:
        items = self.document.get(section)
        found = set()
        for item in items if isinstance(items, list) else ():
            key = item_key(section, item)
            if key is not None:
                found.add(key)
        return found

    def keys(self, section: str) -> set[str]:
        """The keys of `section` that will exist once the file is applied: those in the file,
        and the stored ones unless the file prunes that section."""
        if section not in self._keys:
            keys = self.file_keys(section)
            if not (self.prune and section in self.document):
                keys |= self._stored_keys(section)
            self._keys[section] = keys
        return self._keys[section]


@dataclass(frozen=True)
class Checked:
    """A section's part of the file, checked: the items normalised to the shape `export`
    writes (so they compare equal when nothing changes), or the problems found."""

    items: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Per key, a remark for the plan (where a new object's secrets come from).
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigSection:
    """One kind of object in the file, under the top-level key `name`."""

    name: str
    # Sections are applied in ascending order (referenced objects first) and pruned in reverse.
    order: int
    # The natural key of an item (as the file and `export` write it), or None if it has none.
    key: Callable[[dict], str | None]
    # Every stored object, normalised, sorted by key.
    export: Callable[[], list[dict]]
    # The file's list for this section -> Checked.
    check: Callable[[list, Context], Checked]
    # Write the items to create or update (normalised, in file order) and delete the keys.
    apply: Callable[[list[dict], list[dict], list[str]], None]
    # Keys in the items that are never compared nor exported with values (secret references).
    uncompared: tuple[str, ...] = ()
    # Stored objects the file may not delete, with why (e.g. a source that has events).
    delete_problem: Callable[[str], str | None] = lambda key: None
    # Per other section: which stored objects of this one use the given keys of that one (an
    # audience sync uses its segment), so a delete never takes them along unseen.
    uses: dict[str, Callable[[set[str]], set[str]]] = field(default_factory=dict)


_sections: dict[str, ConfigSection] = {}


def config_section_register(section: ConfigSection) -> ConfigSection:
    existing = _sections.get(section.name)
    if existing is not None and existing is not section:
        raise ValueError(f"Two configuration sections are named {section.name!r}.")
    _sections[section.name] = section
    return section


def config_sections() -> list[ConfigSection]:
    """Every registered section, in the order they are applied."""
    autodiscover_modules("config")
    return sorted(_sections.values(), key=lambda s: (s.order, s.name))


def item_key(section: str, item: object) -> str | None:
    if not isinstance(item, dict):
        return None
    registered = _sections.get(section)
    return registered.key(item) if registered is not None else None
