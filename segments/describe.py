"""Plain-language labels for definition conditions, shown in explanations and summaries."""

from __future__ import annotations

from .definition import OPERATOR_LABELS


def _value_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def describe_test(subject: str, operator: str, value: object) -> str:
    label = OPERATOR_LABELS.get(operator, operator)
    if operator in ("is_set", "is_not_set", "is_true", "is_false"):
        return f"{subject} {label}"
    if operator == "between" and isinstance(value, list) and len(value) == 2:
        return f"{subject} is between {value[0]} and {value[1]}"
    if operator == "within_last_days":
        return f"{subject} is within the last {value} days"
    if operator == "more_than_days_ago":
        return f"{subject} is more than {value} days ago"
    return f"{subject} {label} {_value_text(value)}"


def describe_window(window: dict | None) -> str:
    if not window:
        return "ever"
    if "last_days" in window:
        return f"in the last {window['last_days']} days"
    start, end = window.get("from"), window.get("to")
    if start and end:
        return f"from {start} to {end}"
    return f"since {start}" if start else f"until {end}"


def describe_condition(node: dict, segment_names: dict[int, str] | None = None) -> str:
    """`country is DE`, `did Order Completed at least 2 times in the last 90 days`..."""
    kind = node.get("type")
    prefix = "NOT " if node.get("negate") else ""
    if kind in ("trait", "computed"):
        text = describe_test(node.get("trait", "?"), node.get("operator", "?"), node.get("value"))
    elif kind == "event":
        count = node.get("count") or {"operator": "at_least", "value": 1}
        op, n = count.get("operator", "at_least"), count.get("value", 1)
        if op in ("exactly", "at_most") and n == 0:
            text = f"never did {node.get('event')} {describe_window(node.get('window'))}"
        else:
            times = "time" if n == 1 else "times"
            how_often = f"{OPERATOR_LABELS.get(op, op)} {n} {times}"
            text = f"did {node.get('event')} {how_often} {describe_window(node.get('window'))}"
        filters = [
            describe_test(w.get("property", "?"), w.get("operator", "?"), w.get("value"))
            for w in node.get("where", [])
        ]
        if filters:
            text += " where " + " and ".join(filters)
    elif kind == "consent":
        text = f"consented to {node.get('purpose')}"
    elif kind == "identifier":
        text = f"has an identifier of kind {node.get('kind')}"
        if node.get("operator"):
            text += " whose value " + describe_test("", node["operator"], node.get("value")).strip()
    elif kind == "segment":
        ref = node.get("segment")
        text = f"is in segment “{(segment_names or {}).get(ref, ref)}”"
    else:
        match = node.get("match", "all")
        text = "all of these" if match == "all" else "any of these"
    return prefix + text


def share_text(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage people can read at both ends: 8 of 2,000 is "0.4%",
    not 0%; 1 of 10,000 is "under 0.1%"; 1,999 of 2,000 is "99.9%", not 100%."""
    if whole <= 0 or part <= 0:
        return "0%"
    if part >= whole:
        return "100%"
    percent = 100 * part / whole
    if percent < 0.1:
        return "under 0.1%"
    if percent < 10 or percent > 99:
        text = f"{percent:.1f}"
        # Never round a part up to the whole.
        text = "99.9" if text == "100.0" else text
        return f"{text.removesuffix('.0')}%"
    return f"{round(percent)}%"
