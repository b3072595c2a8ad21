"""Masking of personal data for people whose role does not need to see it in full.

What may be shown is decided by the data catalogue (`profiles.catalogue`), field by field at any
depth: only a trait, property or context path classified not personal is shown, everything else
(personal, sensitive, and fields not known yet) is masked. A value that is shown is still
scrubbed of e-mail addresses, card numbers, IBANs, national ids and phone numbers inside it (an
e-mail in a page URL's query string), in case one slipped into a field known to be safe.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalogue.selectors import ShownFields

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The part of the value masked for a number, a true/false or anything that is not text.
MASKED = "***"


def can_view_personal_data(user) -> bool:
    return bool(user.is_superuser or user.has_perm("profiles.view_personal_data"))


def mask_email(value: str) -> str:
    """`jane.doe@example.com` -> `j***@example.com`."""
    local, _, domain = str(value).partition("@")
    if not domain:
        return mask_text(value)
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    """Keep the last two digits: `+4915112345678` -> `+*********78`."""
    text = str(value)
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    keep = set(digits[-2:])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(text))


def mask_text(value: str) -> str:
    """Keep the first letter of each word: `Jane Doe` -> `J*** D***`."""
    return re.sub(r"(\w)\w*", r"\1***", str(value))


def mask_identifier(kind: str, value: str) -> str:
    if kind == "email" or _EMAIL.fullmatch(str(value)):
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    return mask_text(value)


def mask_scalar(value: object) -> object:
    """One value of a field that is not shown: its shape hinted, its content gone."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return MASKED
    text = str(value)
    if _EMAIL.fullmatch(text.strip()):
        return mask_email(text.strip())
    from .catalogue import detectors

    if detectors.has_phone(text) and detectors.find_phones(text)[0] == text.strip():
        return mask_phone(text)
    return mask_text(text)


def _shown_value(value: object) -> object:
    """A value of a field known to be safe, scrubbed of personal data that slipped into it."""
    if isinstance(value, str):
        from .catalogue.detectors import scrub

        return scrub(value)
    if isinstance(value, list):
        return [_shown_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _shown_value(item) for key, item in value.items()}
    return value


def _masked_whole(value: object) -> object:
    if isinstance(value, dict):
        return {key: _masked_whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_whole(item) for item in value]
    return mask_scalar(value)


def mask_tree(value: object, *, kind: str, shown: ShownFields, event: str = "", path="") -> object:
    """A copy of `value` (traits, properties or context) where every leaf whose dotted path the
    catalogue does not classify not personal is masked, and the shown ones are scrubbed."""
    if isinstance(value, dict):
        return {
            key: mask_tree(
                item, kind=kind, shown=shown, event=event, path=f"{path}.{key}" if path else key
            )
            for key, item in value.items()
        }
    if path and shown.shown(kind, path, event):
        return _shown_value(value)
    return _masked_whole(value)


def mask_raw_message(text: str, *, shown: ShownFields | None = None) -> str:
    """A message as it was sent (perhaps not even JSON), for people who see masked data: a JSON
    object is masked as an event's payload; anything else keeps only the first letter of each
    word, so its shape (why it failed) still shows."""
    import json

    try:
        message = json.loads(text)
    except ValueError:
        return mask_text(text)
    if not isinstance(message, dict):
        return mask_text(text)
    masked = mask_event_payload(message, shown=shown)
    # Fields of the spec's own shape (type, event, timestamps) are kept; the rest as masked.
    for key, value in message.items():
        if key not in masked:
            continue
        if key not in _SPEC_KEYS and key not in ("traits", "properties", "context"):
            masked[key] = _masked_whole(value)
    return json.dumps(masked, indent=2, ensure_ascii=False)


# The keys of a tracking message that describe it rather than the person.
_SPEC_KEYS = frozenset(
    {
        "type",
        "event",
        "name",
        "category",
        "messageId",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "receivedAt",
        "integrations",
        "version",
        "userId",
        "anonymousId",
        "previousId",
        "groupId",
    }
)


def _shown(shown: ShownFields | None) -> ShownFields:
    if shown is not None:
        return shown
    from .catalogue.selectors import shown_fields

    return shown_fields()


def mask_traits(traits: dict, *, shown: ShownFields | None = None) -> dict:
    """A copy of a profile's or an event's traits with everything not known to be safe masked."""
    return mask_tree(traits or {}, kind="trait", shown=_shown(shown))


def mask_event_payload(payload: dict, *, shown: ShownFields | None = None) -> dict:
    """An event as shown to people (the timeline, the API) with its personal data masked.

    The ids are masked, the IP address dropped, and the traits, properties and context masked
    field by field by their class in the catalogue (a page URL is shown scrubbed of e-mails
    only when the catalogue knows `context.page.url` is not personal).
    """
    shown = _shown(shown)
    masked = dict(payload)
    for key in ("userId", "anonymousId", "previousId", "groupId"):
        if masked.get(key):
            masked[key] = mask_identifier(key, masked[key])
    event = str(masked.get("event") or "")
    if isinstance(masked.get("traits"), dict):
        masked["traits"] = mask_tree(masked["traits"], kind="trait", shown=shown)
    elif "traits" in masked:
        masked["traits"] = _masked_whole(masked["traits"])
    if isinstance(masked.get("properties"), dict):
        masked["properties"] = mask_tree(
            masked["properties"], kind="property", shown=shown, event=event
        )
    elif "properties" in masked:
        masked["properties"] = _masked_whole(masked["properties"])
    context = dict(masked.get("context") or {}) if isinstance(masked.get("context"), dict) else {}
    context.pop("ip", None)
    if "context" in masked:
        masked["context"] = mask_tree(context, kind="context", shown=shown)
    return masked
