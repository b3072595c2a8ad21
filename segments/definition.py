"""The segment definition format: its vocabulary, and validation with the path of each error.

A definition is a group: `{"match": "all"|"any", "negate": bool, "conditions": [...]}`. A condition
is a trait, computed (a computed trait or score, `{"type": "computed", "trait": key, ...}`),
event, consent, identifier or segment condition, or a nested group. Every error names
the path of the offending condition (e.g. `conditions.1.where.0.value`) so the builder can show it
in place and the API can return it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cdp_site.errors import InvalidInputError
from cdp_site.params import is_number, number_in_range, storable_text

MAX_DEPTH = 8
MAX_CONDITIONS = 200
# With the segments it refers to inlined, as the compiler does: ten references to a segment
# that refers ten times to another would otherwise multiply into a query nobody can run.
MAX_EXPANDED_CONDITIONS = 1000

STRING_OPERATORS = ("equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with")
LIST_OPERATORS = ("in", "not_in")
NUMBER_OPERATORS = (
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_or_equal",
    "between",
)
PRESENCE_OPERATORS = ("is_set", "is_not_set")
BOOLEAN_OPERATORS = ("is_true", "is_false")
DATE_OPERATORS = ("before", "after", "within_last_days", "more_than_days_ago")
VALUE_OPERATORS = (
    STRING_OPERATORS
    + LIST_OPERATORS
    + NUMBER_OPERATORS
    + PRESENCE_OPERATORS
    + BOOLEAN_OPERATORS
    + DATE_OPERATORS
)
# Each negative operator is the exact negation of its positive.
NEGATIVE_OPERATORS = {
    "not_equals": "equals",
    "not_contains": "contains",
    "not_in": "in",
    "is_not_set": "is_set",
}
COUNT_OPERATORS = ("at_least", "at_most", "exactly")
CONDITION_TYPES = ("trait", "computed", "event", "consent", "identifier", "segment", "group")

# Which operators the builder offers for a field of each type.
OPERATORS_BY_TYPE = {
    "string": (*STRING_OPERATORS, *LIST_OPERATORS, *PRESENCE_OPERATORS),
    "number": ("equals", "not_equals", *NUMBER_OPERATORS, *LIST_OPERATORS, *PRESENCE_OPERATORS),
    "boolean": (*BOOLEAN_OPERATORS, *PRESENCE_OPERATORS),
    "date": (*DATE_OPERATORS, "between", *PRESENCE_OPERATORS),
    "list": PRESENCE_OPERATORS,
    "object": PRESENCE_OPERATORS,
}

OPERATOR_LABELS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "in": "is one of",
    "not_in": "is none of",
    "greater_than": ">",
    "greater_or_equal": "≥",
    "less_than": "<",
    "less_or_equal": "≤",
    "between": "is between",
    "is_set": "is set",
    "is_not_set": "is not set",
    "is_true": "is true",
    "is_false": "is false",
    "before": "is before",
    "after": "is after",
    "within_last_days": "is within the last … days",
    "more_than_days_ago": "is more than … days ago",
    "at_least": "at least",
    "at_most": "at most",
    "exactly": "exactly",
}


class DefinitionError(InvalidInputError):
    """A definition that cannot be compiled; `path` (also its `field`) points at the offending
    condition, as in `conditions.1.where.0.value`."""

    code = "invalid_definition"

    def __init__(self, path: str, message: str):
        super().__init__(message, field=path)
        self.path = path

    def __str__(self) -> str:
        return f"{self.path or 'definition'}: {self.message}"

    @property
    def details(self) -> dict:
        """The keys the REST API has always answered a bad definition with."""
        return {"path": self.path, "detail": self.message}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def parse_date(value: object) -> dt.date | None:
    """An ISO date (or the date part of an ISO date-time) up to `MAX_DATE`, else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        date = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return date if date <= MAX_DATE else None


def empty_definition() -> dict:
    return {"match": "all", "negate": False, "conditions": []}


# Operators that only say whether a value is one given exactly: all that people who see
# personal data masked may test a personal trait or an identifier with. Prefixes, substrings and
# ranges would let them spell a masked value out, one count at a time.
EXACT_OPERATORS = ("equals", "not_equals", "in", "not_in", "is_set", "is_not_set")
# Numbers beyond this are not compared (they are kept exactly, but nobody segments on them).
MAX_NUMBER = 10**30
# Event counts and windows: far beyond any real audience, and within what every database
# compares without overflow.
MAX_COUNT = 1_000_000
MAX_DAYS = 36_500
# Dates end before the last day Python can hold, so that "the day after" always exists.
MAX_DATE = dt.date(9998, 12, 31)


class _Validator:
    def __init__(
        self,
        segment_lookup: Callable[[int], dict | None] | None,
        self_id: int | None,
        personal: bool = True,
        visible: Callable[[int], bool] | None = None,
        masked_field: Callable[[str, str, str], bool] | None = None,
    ):
        self.segment_lookup = segment_lookup
        self.self_id = self_id
        self.personal = personal
        self.visible = visible
        self.masked_field = masked_field
        self.problems: list[Problem] = []
        self.count = 0

    def masked(self, kind: str, path: object, event: object = "") -> bool:
        """Whether this person sees the field masked: every field for a person who sees masked
        data, unless the data catalogue classifies it not personal."""
        if self.personal:
            return False
        if self.masked_field is None or not isinstance(path, str):
            return True
        return self.masked_field(kind, path, event if isinstance(event, str) else "")

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def group(self, node: object, path: str, depth: int) -> None:
        if not isinstance(node, dict):
            self.fail(path, "A group must be an object.")
            return
        if depth > MAX_DEPTH:
            self.fail(path, f"Groups nest at most {MAX_DEPTH} deep.")
            return
        if node.get("match", "all") not in ("all", "any"):
            self.fail(_join(path, "match"), 'Match must be "all" or "any".')
        if not isinstance(node.get("negate", False), bool):
            self.fail(_join(path, "negate"), "Negate must be true or false.")
        conditions = node.get("conditions", [])
        if not isinstance(conditions, list):
            self.fail(_join(path, "conditions"), "Conditions must be a list.")
            return
        for index, child in enumerate(conditions):
            self.condition(child, _join(_join(path, "conditions"), index), depth)

    def condition(self, node: object, path: str, depth: int) -> None:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            if self.count == MAX_CONDITIONS + 1:
                self.fail(path, f"A definition holds at most {MAX_CONDITIONS} conditions.")
            return
        if not isinstance(node, dict):
            self.fail(path, "A condition must be an object.")
            return
        kind = node.get("type")
        if kind not in CONDITION_TYPES:
            self.fail(_join(path, "type"), f"Unknown condition type {kind!r}.")
            return
        if not isinstance(node.get("negate", False), bool):
            self.fail(_join(path, "negate"), "Negate must be true or false.")
        getattr(self, f"c_{kind}")(node, path, depth)

    def c_group(self, node: dict, path: str, depth: int) -> None:
        self.group(node, path, depth + 1)

    def c_trait(self, node: dict, path: str, depth: int) -> None:
        if not _nonempty_str(node.get("trait")):
            self.fail(_join(path, "trait"), "Choose a trait.")
        if self.masked("trait", node.get("trait")):
            self.value_test(node, path, allowed=EXACT_OPERATORS, exact_only=True)
            return
        self.value_test(node, path)

    def c_computed(self, node: dict, path: str, depth: int) -> None:
        # Computed traits and scores are numbers, times and values derived from events, never
        # personal data themselves: every operator is allowed.
        if not _nonempty_str(node.get("trait")):
            self.fail(_join(path, "trait"), "Choose a computed trait.")
        self.value_test(node, path)

    def c_identifier(self, node: dict, path: str, depth: int) -> None:
        if not _nonempty_str(node.get("kind")):
            self.fail(_join(path, "kind"), "Choose an identifier kind.")
        if "operator" in node:
            allowed = STRING_OPERATORS + LIST_OPERATORS
            if not self.personal:
                allowed = tuple(op for op in allowed if op in EXACT_OPERATORS)
            self.value_test(node, path, allowed=allowed, exact_only=not self.personal)

    def c_consent(self, node: dict, path: str, depth: int) -> None:
        if not _nonempty_str(node.get("purpose")):
            self.fail(_join(path, "purpose"), "Choose a consent purpose.")

    def c_segment(self, node: dict, path: str, depth: int) -> None:
        ref = node.get("segment")
        if not isinstance(ref, int) or isinstance(ref, bool):
            self.fail(_join(path, "segment"), "Choose a segment.")
            return
        if self.visible is not None and not self.visible(ref):
            # Said as for a missing one: another person's private segment is not to be known.
            self.fail(_join(path, "segment"), f"Segment {ref} does not exist.")
            return
        if self.segment_lookup is None:
            return
        cycle = _find_cycle(ref, self.segment_lookup, self.self_id)
        if cycle is not None:
            self.fail(_join(path, "segment"), cycle)

    def c_event(self, node: dict, path: str, depth: int) -> None:
        if not _nonempty_str(node.get("event")):
            self.fail(_join(path, "event"), "Choose an event.")
        count = node.get("count", {"operator": "at_least", "value": 1})
        if not isinstance(count, dict):
            self.fail(_join(path, "count"), "Count must be an object.")
        else:
            if count.get("operator", "at_least") not in COUNT_OPERATORS:
                self.fail(
                    _join(path, "count.operator"), "Count must be at least, at most or exactly."
                )
            value = count.get("value", 1)
            if not _whole_number_in(value, 0, MAX_COUNT):
                self.fail(
                    _join(path, "count.value"),
                    f"Enter a whole number of times from 0 to {MAX_COUNT:,}.",
                )
        window = node.get("window")
        if window is not None:
            self.window(window, _join(path, "window"))
        where = node.get("where", [])
        if not isinstance(where, list):
            self.fail(_join(path, "where"), "Property filters must be a list.")
            return
        for index, item in enumerate(where):
            item_path = _join(_join(path, "where"), index)
            if not isinstance(item, dict):
                self.fail(item_path, "A property filter must be an object.")
                continue
            if not _nonempty_str(item.get("property")):
                self.fail(_join(item_path, "property"), "Choose a property.")
            if self.masked("property", item.get("property"), node.get("event")):
                # Event properties are masked as traits are (a customer_email, say).
                self.value_test(item, item_path, allowed=EXACT_OPERATORS, exact_only=True)
                continue
            self.value_test(item, item_path)

    def window(self, window: object, path: str) -> None:
        if not isinstance(window, dict) or not window:
            self.fail(path, 'A window is {"last_days": N} or {"from": date, "to": date}.')
            return
        if "last_days" in window:
            days = window["last_days"]
            if not _whole_number_in(days, 1, MAX_DAYS):
                self.fail(
                    _join(path, "last_days"),
                    f"Enter a whole number of days from 1 to {MAX_DAYS:,} (100 years).",
                )
            return
        start, end = window.get("from"), window.get("to")
        if start is None and end is None:
            self.fail(path, 'A window is {"last_days": N} or {"from": date, "to": date}.')
        for key, value in (("from", start), ("to", end)):
            if value is not None and parse_date(value) is None:
                self.fail(_join(path, key), "Enter a date as YYYY-MM-DD.")
        if parse_date(start) and parse_date(end) and parse_date(start) > parse_date(end):
            self.fail(path, "The window starts after it ends.")

    def value_test(
        self, node: dict, path: str, allowed: tuple = VALUE_OPERATORS, exact_only: bool = False
    ) -> None:
        operator = node.get("operator")
        op_path = _join(path, "operator")
        if exact_only and operator in VALUE_OPERATORS and operator not in allowed:
            self.fail(
                op_path,
                "Personal data can only be tested for an exact value with your role "
                "(is, is not, is one of, is set).",
            )
            return
        if operator not in allowed:
            self.fail(op_path, f"Unknown operator {operator!r}.")
            return
        value = node.get("value")
        value_path = _join(path, "value")
        message = value_problem(operator, value)
        if message:
            self.fail(value_path, message)


def value_problem(operator: str, value: object) -> str | None:
    """What is wrong with `value` for `operator`, or None."""
    if operator in PRESENCE_OPERATORS + BOOLEAN_OPERATORS:
        return None
    if operator in LIST_OPERATORS:
        if not isinstance(value, list) or not value:
            return "Give a list of one or more values."
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return "List values must be text or numbers."
        return _number_problem([v for v in value if is_number(v)])
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            return "Between needs two numbers (or two dates): [low, high]."
        if all(is_number(v) for v in value) or all(parse_date(v) for v in value):
            return _number_problem(value) if is_number(value[0]) else None
        return "Between needs two numbers (or two dates): [low, high]."
    if operator in ("greater_than", "greater_or_equal", "less_than", "less_or_equal"):
        return _number_problem([value]) if is_number(value) else "Enter a number."
    if operator in ("before", "after"):
        return None if parse_date(value) else "Enter a date as YYYY-MM-DD."
    if operator in ("within_last_days", "more_than_days_ago"):
        if _whole_number_in(value, 0, MAX_DAYS):
            return None
        return f"Enter a whole number of days from 0 to {MAX_DAYS:,} (100 years)."
    if operator in ("equals", "not_equals"):
        if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
            return _number_problem([value]) if is_number(value) else None
        return "Enter a value."
    if isinstance(value, str) and value != "":
        return None
    return "Enter some text."


def _whole_number_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number_problem(values: list) -> str | None:
    if not all(number_in_range(v, MAX_NUMBER) for v in values):
        return "That number is too large to compare."
    return None


def _text_problem(definition: object) -> tuple[str, str] | None:
    """(path, message) of the first text in the definition no database can hold, or None."""
    stack: list[tuple[object, str]] = [(definition, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                if not storable_text(str(key)):
                    return path, "Text may not hold NUL characters or broken Unicode."
                stack.append((child, _join(path, key)))
        elif isinstance(node, list):
            stack.extend((child, _join(path, index)) for index, child in enumerate(node))
        elif isinstance(node, str) and not storable_text(node):
            return path, "Text may not hold NUL characters or broken Unicode."
    return None


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def segment_references(definition: object) -> set[int]:
    """Ids of the segments a definition refers to directly."""
    found: set[int] = set()

    def walk(node: object) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "segment" and isinstance(node.get("segment"), int):
            found.add(node["segment"])
        for child in node.get("conditions", []) if isinstance(node.get("conditions"), list) else []:
            walk(child)

    walk(definition)
    return found


def _find_cycle(
    start: int, lookup: Callable[[int], dict | None], self_id: int | None
) -> str | None:
    """A message if segment `start` does not exist or leads back to `self_id`."""
    if self_id is not None and start == self_id:
        return "A segment cannot include itself."
    seen: set[int] = set()
    stack = [(start, [start])]
    while stack:
        current, trail = stack.pop()
        definition = lookup(current)
        if definition is None:
            if current == start:
                return f"Segment {start} does not exist."
            continue
        for ref in segment_references(definition):
            if self_id is not None and ref == self_id:
                names = " → ".join(str(s) for s in [*trail, ref])
                return f"This would make the segment include itself (through {names})."
            if ref in trail:
                return "The referenced segments include each other in a loop."
            if ref not in seen:
                seen.add(ref)
                stack.append((ref, [*trail, ref]))
    return None


def definition_problems(
    definition: object,
    *,
    segment_lookup: Callable[[int], dict | None] | None = None,
    self_id: int | None = None,
    personal: bool = True,
    visible: Callable[[int], bool] | None = None,
    masked_field: Callable[[str, str, str], bool] | None = None,
) -> list[Problem]:
    """Every problem of `definition`, each with its path; empty if it is valid.

    For a person's own definition: `visible(segment id)` says which segments they may refer to,
    and `personal=False` (people who see personal data masked) allows only exact tests of
    identifiers and of the fields `masked_field(kind, path, event)` says they see masked (every
    trait and property when it is not given).
    """
    text = _text_problem(definition)
    if text is not None:
        return [Problem(*text)]
    validator = _Validator(segment_lookup, self_id, personal, visible, masked_field)
    validator.group(definition, "", 0)
    if (
        not validator.problems
        and segment_lookup is not None
        and _expanded_size(definition, segment_lookup, {}, ()) > MAX_EXPANDED_CONDITIONS
    ):
        validator.fail(
            "",
            "With the segments it refers to, this definition holds more than "
            f"{MAX_EXPANDED_CONDITIONS} conditions. Refer to fewer segments.",
        )
    return validator.problems


def _expanded_size(
    node: object,
    lookup: Callable[[int], dict | None],
    sizes: dict[int, int],
    trail: tuple[int, ...],
) -> int:
    """How many conditions `node` holds once every referenced segment is inlined."""
    if not isinstance(node, dict):
        return 0
    if node.get("type") == "segment":
        ref = node.get("segment")
        if not isinstance(ref, int) or ref in trail:
            return 1
        if ref not in sizes:
            sizes[ref] = _expanded_size(lookup(ref), lookup, sizes, (*trail, ref))
        return 1 + sizes[ref]
    children = node.get("conditions") if isinstance(node.get("conditions"), list) else []
    return (1 if "type" in node else 0) + sum(
        _expanded_size(child, lookup, sizes, trail) for child in children
    )


def definition_validate(
    definition: object,
    *,
    segment_lookup: Callable[[int], dict | None] | None = None,
    self_id: int | None = None,
    personal: bool = True,
    visible: Callable[[int], bool] | None = None,
    masked_field: Callable[[str, str, str], bool] | None = None,
) -> dict:
    """Return the definition if valid, else raise DefinitionError for the first problem."""
    problems = definition_problems(
        definition,
        segment_lookup=segment_lookup,
        self_id=self_id,
        personal=personal,
        visible=visible,
        masked_field=masked_field,
    )
    if problems:
        raise DefinitionError(problems[0].path, problems[0].message)
    return definition  # type: ignore[return-value]
