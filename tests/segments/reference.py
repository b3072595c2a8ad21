"""A plain-Python evaluator of segment definitions, written apart from the compiler to check it.

It works on plain data (dicts), not on the database: each profile is
{"id", "traits", "computed", "merged", "events": [{"event", "timestamp", "properties"}],
 "consent": [{"purpose", "granted", "recorded_at", "id"}], "identities": [{"kind", "value"}]}.
"""

import datetime as dt
import re

NEGATIVE = {
    "not_equals": "equals",
    "not_contains": "contains",
    "not_in": "in",
    "is_not_set": "is_set",
}

# A date: a year, then a month 01-12 and a day 01-31.
_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")


def _num(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date_like(value):
    return isinstance(value, str) and _DATE.match(value) is not None


def _day(text):
    return dt.date.fromisoformat(text[:10])


def _next_day(text):
    return (_day(text) + dt.timedelta(days=1)).isoformat()


def _lookup(values: dict, key: str) -> tuple[bool, object]:
    """(present, value): the key itself, else a dotted path walked through nested objects."""
    if key in values:
        return True, values[key]
    parts = key.split(".")
    if len(parts) < 2 or not all(parts):
        return False, None
    node = values
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def value_test(values: dict, key: str, operator: str, expected, today: dt.date) -> bool:
    if operator in NEGATIVE:
        return not value_test(values, key, NEGATIVE[operator], expected, today)
    present, v = _lookup(values, key)
    if operator == "is_set":
        return present and v is not None
    if operator == "is_true":
        return v is True
    if operator == "is_false":
        return v is False
    if operator in ("equals", "in"):
        options = expected if operator == "in" else [expected]
        if isinstance(v, str):
            return v.lower() in [o.lower() for o in options if isinstance(o, str)]
        if _num(v):
            return any(_num(o) and v == o for o in options)
        return False
    if operator in ("contains", "starts_with", "ends_with"):
        if not isinstance(v, str):
            return False
        text, part = v.lower(), str(expected).lower()
        if operator == "contains":
            return part in text
        return text.startswith(part) if operator == "starts_with" else text.endswith(part)
    if operator in ("greater_than", "greater_or_equal", "less_than", "less_or_equal"):
        if not _num(v):
            return False
        return {
            "greater_than": v > expected,
            "greater_or_equal": v >= expected,
            "less_than": v < expected,
            "less_or_equal": v <= expected,
        }[operator]
    if operator == "between":
        low, high = expected
        if _num(low):
            return _num(v) and low <= v <= high
        return _date_like(v) and low[:10] <= v < _next_day(high)
    if not _date_like(v):
        return False
    if operator == "before":
        return v < expected[:10]
    if operator == "after":
        return v >= _next_day(expected)
    if operator == "within_last_days":
        return v >= (today - dt.timedelta(days=expected)).isoformat()
    if operator == "more_than_days_ago":
        return v < (today - dt.timedelta(days=expected)).isoformat()
    raise AssertionError(operator)


def _in_window(timestamp: dt.datetime, window, now: dt.datetime) -> bool:
    if not window:
        return True
    if "last_days" in window:
        return timestamp >= now - dt.timedelta(days=window["last_days"])
    if window.get("from") and timestamp.date() < _day(window["from"]):
        return False
    return not (window.get("to") and timestamp.date() > _day(window["to"]))


def _event_count(profile, node, now):
    today = now.date()
    return sum(
        1
        for e in profile["events"]
        if e["event"] == node["event"]
        and _in_window(e["timestamp"], node.get("window"), now)
        and all(
            value_test(e["properties"], w["property"], w["operator"], w.get("value"), today)
            for w in node.get("where", [])
        )
    )


def evaluate(profile, node, now, segments) -> bool:
    """Does `profile` meet `node` (a group or condition)? `segments` maps id -> definition."""
    kind = node.get("type", "group")
    if kind == "group":
        results = [evaluate(profile, child, now, segments) for child in node.get("conditions", [])]
        result = all(results) if node.get("match", "all") == "all" else any(results)
    elif kind == "trait":
        result = value_test(
            profile["traits"], node["trait"], node["operator"], node.get("value"), now.date()
        )
    elif kind == "computed":
        result = value_test(
            profile.get("computed", {}),
            node["trait"],
            node["operator"],
            node.get("value"),
            now.date(),
        )
    elif kind == "event":
        count = node.get("count") or {}
        op, n = count.get("operator", "at_least"), count.get("value", 1)
        actual = _event_count(profile, node, now)
        result = {"at_least": actual >= n, "at_most": actual <= n, "exactly": actual == n}[op]
    elif kind == "consent":
        records = [c for c in profile["consent"] if c["purpose"] == node["purpose"]]
        latest = max(records, key=lambda c: (c["recorded_at"], c["id"]), default=None)
        result = bool(latest and latest["granted"])
    elif kind == "identifier":
        ids = [i for i in profile["identities"] if i["kind"] == node["kind"]]
        if node.get("operator"):
            result_any = any(
                value_test(
                    {"v": i["value"]},
                    "v",
                    NEGATIVE.get(node["operator"], node["operator"]),
                    node.get("value"),
                    now.date(),
                )
                for i in ids
            )
            result = (not result_any) if node["operator"] in NEGATIVE else result_any
        else:
            result = bool(ids)
    elif kind == "segment":
        definition = segments.get(node["segment"])
        result = definition is not None and evaluate(
            profile, {**definition, "type": "group"}, now, segments
        )
    else:
        raise AssertionError(kind)
    return (not result) if node.get("negate") else result


def members(profiles, definition, now, segments) -> set[int]:
    return {
        p["id"]
        for p in profiles
        if not p["merged"] and evaluate(p, {**definition, "type": "group"}, now, segments)
    }
