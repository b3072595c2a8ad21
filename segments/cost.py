"""What a definition costs to count live, before it runs: a weighted count of its conditions.

Text searches (`contains`, `ends_with`...) read every profile's value and cannot use an index;
event conditions each scan events by profile; exact and presence tests on traits are cheap.
Referenced segments count as their own conditions, since the compiler inlines them.
"""

from collections.abc import Callable

TEXT_SEARCH_OPERATORS = frozenset({"contains", "not_contains", "starts_with", "ends_with"})
TEXT_SEARCH_COST = 5
EVENT_COST = 3
CONDITION_COST = 1


def definition_cost(
    node: object, lookup: Callable[[int], dict | None], _trail: tuple[int, ...] = ()
) -> int:
    """The live-count cost of a (validated) definition, its referenced segments included."""
    if not isinstance(node, dict):
        return 0
    kind = node.get("type")
    cost = 0
    if kind == "segment":
        ref = node.get("segment")
        if isinstance(ref, int) and ref not in _trail:
            cost += CONDITION_COST + definition_cost(lookup(ref), lookup, (*_trail, ref))
        return cost
    if kind == "event":
        cost += EVENT_COST
        cost += sum(
            _value_cost(where) for where in node.get("where") or [] if isinstance(where, dict)
        )
    elif kind is not None and kind != "group":
        cost += _value_cost(node)
    for child in node.get("conditions") or []:
        cost += definition_cost(child, lookup, _trail)
    return cost


def _value_cost(node: dict) -> int:
    return TEXT_SEARCH_COST if node.get("operator") in TEXT_SEARCH_OPERATORS else CONDITION_COST
