"""The visual builder's form: a definition tree <-> flat form fields, and structural edits.

Each node of the tree has a path: `r` is the root group, `r.0` its first condition, `r.0.1` the
second child of that group, `r.0.w1` the second property filter of an event condition. A field is
named `n-<path>-<attribute>`, and the hidden `node` fields list every path in order, so the tree
can be rebuilt from a plain form post (with or without JavaScript).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from itertools import pairwise

from .definition import (
    DATE_OPERATORS,
    LIST_OPERATORS,
    NUMBER_OPERATORS,
    OPERATOR_LABELS,
    OPERATORS_BY_TYPE,
    VALUE_OPERATORS,
    empty_definition,
)

NEW_CONDITIONS = {
    "trait": {"type": "trait", "trait": "", "operator": "equals", "value": ""},
    "computed": {"type": "computed", "trait": "", "operator": "greater_than", "value": ""},
    "event": {
        "type": "event",
        "event": "",
        "count": {"operator": "at_least", "value": 1},
        "where": [],
    },
    "consent": {"type": "consent", "purpose": "email_marketing"},
    "identifier": {"type": "identifier", "kind": "email"},
    "segment": {"type": "segment", "segment": None},
    "group": {"type": "group", "match": "any", "negate": False, "conditions": []},
}
NEW_FILTER = {"property": "", "operator": "equals", "value": ""}
_INT = re.compile(r"^-?\d+$")
_FLOAT = re.compile(r"^-?\d+(\.\d+)?$")


def _number(text: str):
    text = text.strip().replace(",", ".") if isinstance(text, str) else text
    if isinstance(text, str) and _INT.match(text):
        return int(text)
    if isinstance(text, str) and _FLOAT.match(text):
        return float(text)
    return text


def _typed_value(operator: str, raw: str, raw2: str, value_type: str):
    """The form's text turned into the JSON value the operator expects."""
    if operator in ("is_set", "is_not_set", "is_true", "is_false"):
        return None
    if operator in LIST_OPERATORS:
        items = [item.strip() for item in (raw or "").split(",") if item.strip()]
        return [_number(i) for i in items] if value_type == "number" else items
    if operator == "between":
        if value_type == "date":
            return [raw, raw2]
        return [_number(raw or ""), _number(raw2 or "")]
    if operator in NUMBER_OPERATORS or operator in ("within_last_days", "more_than_days_ago"):
        return _number(raw or "")
    if value_type == "number" and operator in ("equals", "not_equals"):
        return _number(raw or "")
    return raw or ""


def _int(text: str | None, default: int | None = None) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


class FormReader:
    """Rebuilds a definition from the builder's POST data."""

    def __init__(
        self,
        data,
        types: dict[str, str],
        property_types: dict[tuple[str, str], str],
        computed_types: dict[str, str] | None = None,
    ):
        self.data = data
        self.types = types
        self.property_types = property_types
        self.computed_types = computed_types or {}

    def get(self, path: str, name: str, default: str = "") -> str:
        return self.data.get(f"n-{path}-{name}", default)

    def definition(self) -> dict:
        paths = self.data.getlist("node") if hasattr(self.data, "getlist") else []
        if "r" not in paths:
            return empty_definition()
        nodes = {path: self.node(path) for path in paths}
        for path in paths:
            if path == "r":
                continue
            parent, _, last = path.rpartition(".")
            if parent not in nodes:
                continue
            if last.startswith("w"):
                nodes[parent].setdefault("where", []).append(nodes[path])
            else:
                nodes[parent].setdefault("conditions", []).append(nodes[path])
        root = nodes["r"]
        root.pop("type", None)
        return root

    def node(self, path: str) -> dict:
        if path.rpartition(".")[2].startswith("w"):
            return self.value_test(path, {"property": self.get(path, "property").strip()})
        kind = self.get(path, "type", "group")
        negate = self.get(path, "negate") == "on"
        if kind == "group" or path == "r":
            return {
                "type": "group",
                "match": self.get(path, "match", "all"),
                "negate": negate,
                "conditions": [],
            }
        node: dict = {"type": kind, "negate": negate}
        if kind in ("trait", "computed"):
            node["trait"] = self.get(path, "trait").strip()
            return self.value_test(path, node, kind)
        if kind == "event":
            node["event"] = self.get(path, "event").strip()
            node["count"] = {
                "operator": self.get(path, "count_op", "at_least"),
                "value": _int(self.get(path, "count"), self.get(path, "count")),
            }
            window = self.get(path, "window", "ever")
            if window == "last_days":
                node["window"] = {"last_days": _int(self.get(path, "days"), self.get(path, "days"))}
            elif window == "range":
                node["window"] = {
                    k: v
                    for k, v in (("from", self.get(path, "from")), ("to", self.get(path, "to")))
                    if v
                } or {"from": ""}
            node["where"] = []
            return node
        if kind == "consent":
            node["purpose"] = self.get(path, "purpose")
        elif kind == "identifier":
            node["kind"] = self.get(path, "kind").strip()
        elif kind == "segment":
            node["segment"] = _int(self.get(path, "segment"))
        return node

    def value_test(self, path: str, node: dict, kind: str = "trait") -> dict:
        operator = self.get(path, "operator", "equals")
        if "trait" in node:
            types = self.computed_types if kind == "computed" else self.types
            value_type = types.get(node["trait"], "string")
        else:
            event = self.get(path.rpartition(".")[0], "event")
            value_type = self.property_types.get((event, node["property"]), "string")
        if operator in DATE_OPERATORS[:2]:
            value_type = "date"
        node["operator"] = operator
        node["value"] = _typed_value(
            operator, self.get(path, "value"), self.get(path, "value2"), value_type
        )
        return node


def problem_place(path: str) -> str:
    """Where a problem of the definition is, in the builder's words: `conditions.1.where.0.value`
    is "Condition 2, property filter 1"; conditions inside groups are numbered as "2.1"."""
    parts = path.split(".") if path else []
    numbers: list[str] = []
    where = None
    for key, index in pairwise(parts):
        if not index.isdigit():
            continue
        if key == "conditions":
            numbers.append(str(int(index) + 1))
        elif key == "where":
            where = int(index) + 1
    if not numbers:
        return ""
    place = f"Condition {'.'.join(numbers)}"
    return f"{place}, property filter {where}" if where else place


def _parse_path(path: str) -> list[str]:
    return path.split(".")[1:]


def _find(definition: dict, path: str) -> tuple[dict | None, list | None, int | None]:
    """(node, list holding it, index in that list) for a builder path."""
    node, holder, index = definition, None, None
    for part in _parse_path(path):
        if part.startswith("w"):
            holder, index = node.setdefault("where", []), _int(part[1:])
        else:
            holder, index = node.setdefault("conditions", []), _int(part)
        if index is None or not 0 <= index < len(holder):
            return None, None, None
        node = holder[index]
    return node, holder, index


def apply_op(definition: dict, op: str) -> dict:
    """Apply one structural edit: `add-<type>:<path>`, `add-where:<path>`, `remove:<path>`."""
    action, _, path = op.partition(":")
    node, holder, index = _find(definition, path or "r")
    if node is None:
        return definition
    if action.startswith("add-") and action[4:] in NEW_CONDITIONS:
        if node is definition or node.get("type") == "group":
            new = copy.deepcopy(NEW_CONDITIONS[action[4:]])
            node.setdefault("conditions", []).append(new)
    elif action == "add-where" and node.get("type") == "event":
        node.setdefault("where", []).append(dict(NEW_FILTER))
    elif action == "remove" and holder is not None:
        holder.pop(index)
    return definition


@dataclass
class BuilderNode:
    """What the template needs to draw one node."""

    path: str
    data: dict
    depth: int
    errors: list[str] = field(default_factory=list)
    children: list[BuilderNode] = field(default_factory=list)
    filters: list[BuilderNode] = field(default_factory=list)
    value_type: str = "string"
    operators: tuple = ()
    # Common values of the chosen field, offered in the value input (see `builder_suggest`).
    suggestions: list[str] = field(default_factory=list)

    @property
    def operator_choices(self) -> list[tuple[str, str]]:
        return [(op, OPERATOR_LABELS.get(op, op)) for op in self.operators]

    @property
    def kind(self) -> str:
        return self.data.get("type", "group")

    @property
    def value_text(self) -> str:
        value = self.data.get("value")
        if isinstance(value, list):
            return (
                ", ".join(str(v) for v in value)
                if self.data.get("operator") != "between"
                else str(value[0] if value else "")
            )
        return "" if value is None else str(value)

    @property
    def value2_text(self) -> str:
        value = self.data.get("value")
        return str(value[1]) if isinstance(value, list) and len(value) == 2 else ""

    @property
    def input_type(self) -> str:
        operator = self.data.get("operator", "")
        if operator in ("within_last_days", "more_than_days_ago"):
            return "number"
        if operator in ("before", "after") or (operator == "between" and self.value_type == "date"):
            return "date"
        if operator in NUMBER_OPERATORS or (
            self.value_type == "number" and operator in ("equals", "not_equals")
        ):
            return "number"
        return "text"

    @property
    def needs_value(self) -> bool:
        return self.data.get("operator") not in ("is_set", "is_not_set", "is_true", "is_false")


def builder_tree(
    definition: dict,
    types: dict[str, str],
    property_types: dict[tuple[str, str], str],
    problems=None,
    *,
    computed_types: dict[str, str] | None = None,
) -> BuilderNode:
    """The definition as BuilderNodes, each carrying the validation messages at its path."""
    errors: dict[str, list[str]] = {}
    for problem in problems or []:
        errors.setdefault(problem.path, []).append(problem.message)

    def errors_for(def_path: str) -> list[str]:
        """Messages at this node or one of its own attributes (not at its children)."""
        prefix = f"{def_path}." if def_path else ""
        found = []
        for key, messages in errors.items():
            if key == def_path or (
                key.startswith(prefix)
                and key != ""
                and not key[len(prefix) :].startswith(("conditions.", "where."))
            ):
                found += messages
        return found

    def walk(node: dict, path: str, def_path: str, depth: int) -> BuilderNode:
        item = BuilderNode(path=path, data=node, depth=depth, errors=errors_for(def_path))
        kind = node.get("type", "group")
        if kind in ("trait", "computed"):
            known = (computed_types or {}) if kind == "computed" else types
            item.value_type = known.get(node.get("trait", ""), "string")
            item.operators = (
                OPERATORS_BY_TYPE.get(item.value_type, VALUE_OPERATORS)
                if node.get("trait") in known
                else VALUE_OPERATORS
            )
        if kind == "event":
            for i, where in enumerate(node.get("where", [])):
                sub = BuilderNode(
                    path=f"{path}.w{i}",
                    data=where,
                    depth=depth + 1,
                    errors=errors_for(f"{def_path}.where.{i}" if def_path else f"where.{i}"),
                )
                key = (node.get("event", ""), where.get("property", ""))
                sub.value_type = property_types.get(key, "string")
                sub.operators = (
                    OPERATORS_BY_TYPE.get(sub.value_type, VALUE_OPERATORS)
                    if key in property_types
                    else VALUE_OPERATORS
                )
                item.filters.append(sub)
        if kind == "group":
            for i, child in enumerate(node.get("conditions", [])):
                child_def = f"{def_path}.conditions.{i}" if def_path else f"conditions.{i}"
                item.children.append(walk(child, f"{path}.{i}", child_def, depth + 1))
        return item

    return walk({**definition, "type": "group"}, "r", "", 0)
