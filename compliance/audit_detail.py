"""An audit row's details as people read them: label and text per entry, not a Python dict.

Details are written by many services (what was viewed, which filters, what changed); this turns
any of them into short lines. A change is shown as `before → after`.
"""

import json

LABELS = {
    "source_name": "Source",
    "segment_name": "Segment",
    "grace_hours": "Grace period (hours)",
    "previous_key_valid_until": "Old key valid until",
    "still_invalid": "Still invalid",
    "profile_ids": "Profiles",
}


def _label(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if set(value) == {"from", "to"}:
            return f"{_text(value['from'])} → {_text(value['to'])}"
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items()) or "—"
    if isinstance(value, list | tuple):
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(_text(item) for item in value) or "none"
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def audit_detail_lines(detail: object) -> list[tuple[str, str]]:
    """(label, text) per entry of a row's details, in the order they were written."""
    if not isinstance(detail, dict):
        return [("Details", _text(detail))] if detail not in (None, "", []) else []
    return [(_label(str(key)), _text(value)) for key, value in detail.items()]
