"""The registry of stores that hold personal data, for data subject requests.

Each app that keeps rows about people registers a store here (from its own `erasure` module,
imported by its app config): a name, and how to count, erase and export the rows of one subject.
The compliance app runs every registered store for an erasure or an access request, so each app
deletes its own rows (one writer per table) and a table added later joins by registering, without
compliance importing it. Destinations that can forget a person register a processor the same way.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Subject:
    """Whom a request is about.

    `identifiers`: {kind: normalised values} as identity resolution keeps them;
    `values`: every form worth searching for in free text (as given, normalised, other spellings);
    `profile_ids`: every profile the identifiers lead to, merged-away ones included.
    """

    identifiers: dict[str, tuple[str, ...]]
    values: tuple[str, ...]
    profile_ids: frozenset[int] = field(default_factory=frozenset)

    def pairs(self) -> list[tuple[str, str]]:
        return [(kind, value) for kind, values in self.identifiers.items() for value in values]


@dataclass(frozen=True)
class Store:
    """Rows about people in one app's tables.

    `count(subject)` and `erase(subject)` answer rows (erase: rows removed or redacted);
    `export(subject)` answers {table label: [row dicts]} for the access archive. `order` runs
    stores that others' rows point at (profiles) after them.
    """

    name: str
    label: str
    count: Callable[[Subject], int]
    erase: Callable[[Subject], int]
    export: Callable[[Subject], dict[str, list[dict]]]
    order: int = 100


@dataclass(frozen=True)
class ProcessorAnswer:
    """What one outside processor (a destination) answered to a deletion request."""

    name: str
    ok: bool
    message: str
    retryable: bool = False


@dataclass(frozen=True)
class Processor:
    """Outside systems that received personal data and can be asked to delete a person:
    `delete(identifiers)` asks each and answers one `ProcessorAnswer` per system."""

    name: str
    delete: Callable[[dict[str, list[str]]], list[ProcessorAnswer]]


_STORES: dict[str, Store] = {}
_PROCESSORS: dict[str, Processor] = {}


def store_register(store: Store) -> Store:
    """Add (or replace, by name) a store; registering twice is harmless."""
    _STORES[store.name] = store
    return store


def stores() -> list[Store]:
    """The registered stores, in the order an erasure runs them."""
    return sorted(_STORES.values(), key=lambda store: (store.order, store.name))


def processor_register(processor: Processor) -> Processor:
    _PROCESSORS[processor.name] = processor
    return processor


def processors() -> list[Processor]:
    return sorted(_PROCESSORS.values(), key=lambda processor: processor.name)


# Values shorter than this are matched only where they stand alone (identifier columns): in free
# text a short user id such as "42" would also match prices, counts and other people's data.
FREE_TEXT_MIN_LENGTH = 6
# A value counts as found in free text only as a whole: not preceded by a character that could
# continue it (so "jane@example.com" is not found in "mary.jane@example.com"), nor followed by
# one (nor by a dot and more of a domain). Written so PostgreSQL's and Python's regular
# expressions read it alike.
_BEFORE = r"(?<![A-Za-z0-9._%+-])"
_AFTER = r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])"


def free_text_values(subject: Subject) -> list[str]:
    """The subject's values long enough to look for in free text, longest first."""
    found = {value for value in subject.values if len(value) >= FREE_TEXT_MIN_LENGTH}
    return sorted(found, key=lambda value: (-len(value), value))


def subject_pattern(subject: Subject) -> str | None:
    """One case-insensitive regular expression finding any of the subject's values in text."""
    import re

    values = free_text_values(subject)
    if not values:
        return None
    return _BEFORE + "(?:" + "|".join(re.escape(value) for value in values) + ")" + _AFTER


def text_matching(queryset, subject: Subject, fields: tuple[str, ...]):
    """`queryset` narrowed to rows whose text or JSON `fields` hold one of the subject's values
    (an empty queryset when no value is long enough to search for)."""
    from django.db.models import F, Q, TextField
    from django.db.models.functions import Cast

    pattern = subject_pattern(subject)
    if pattern is None:
        return queryset.none()
    names = {name: f"erasure_text_{name}" for name in fields}
    queryset = queryset.annotate(
        **{alias: Cast(F(name), output_field=TextField()) for name, alias in names.items()}
    )
    condition = Q()
    for alias in names.values():
        condition |= Q(**{f"{alias}__iregex": pattern})
    return queryset.filter(condition)
