"""Trait values as the customer 360 shows them: nested objects as a list of their parts by dotted
path (`address.country`, as the segment builder names them), lists and scalars as short text."""

import json

# Deeper than this, the rest of a nested value is shown as compact JSON.
MAX_DEPTH = 3


def trait_text(value: object) -> str:
    """One value as text: lists of plain values joined by commas, other objects as JSON."""
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join("—" if v is None else str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def trait_parts(value: dict, prefix: str = "", depth: int = 1) -> list[tuple[str, str]]:
    """[(dotted path below the trait, text)] of a nested trait, in key order."""
    parts: list[tuple[str, str]] = []
    for key in sorted(value, key=str):
        item, path = value[key], f"{prefix}{key}"
        if isinstance(item, dict) and item and depth < MAX_DEPTH:
            parts.extend(trait_parts(item, prefix=f"{path}.", depth=depth + 1))
        else:
            parts.append((path, trait_text(item)))
    return parts
