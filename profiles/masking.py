"""Masking of personal data for people whose role does not need to see it in full.

What counts as personal is decided by key and by value, at any depth: a value under a key that
names personal data (an e-mail, phone, name, address, birthday, IP or identifier field, in any
naming style) is masked whole, whatever its type (numbers, lists and objects included); a text
that is an e-mail address is masked wherever it appears. Everything else (plan, country,
revenue, product names) is shown as it is.
"""

import re

# Keys (lower-cased, without separators) that are personal wherever they appear in the key...
_PERSONAL_PARTS = ("email", "phone", "mobile", "address", "street", "birth", "postal", "zip")
# ...and keys that are personal only as a whole ("productname" is not, "lastname" is).
_PERSONAL_KEYS = frozenset(
    {
        "name",
        "firstname",
        "lastname",
        "fullname",
        "middlename",
        "displayname",
        "username",
        "ip",
        "ipaddress",
        "ssn",
        "passport",
        "userid",
        "anonymousid",
        "deviceid",
        "advertisingid",
        "externalids",
    }
)
_DEVICE_ID_KEYS = frozenset({"id", "advertisingId", "adTrackingId", "token"})
_SEPARATORS = re.compile(r"[^a-z0-9]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


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


def _flat(key: object) -> str:
    """A key in any naming style, compared as one: `customer_email`, `customerEmail`..."""
    return _SEPARATORS.sub("", str(key).lower())


def is_personal_key(key: object) -> bool:
    """Whether a trait or property key names personal data (`customer_email`, `lastName`...)."""
    flat = _flat(key)
    return flat in _PERSONAL_KEYS or any(part in flat for part in _PERSONAL_PARTS)


# Inside an address, the parts that name a place rather than a door: shown, as the profile
# header's location is (segmenting by country is a marketer's daily work).
_PLACE_KEYS = frozenset({"city", "country", "countrycode", "state", "region", "province"})
# Parts of an event's context that describe the software that sent it, not the person.
_SOFTWARE_CONTEXT_KEYS = frozenset({"library", "app", "os", "screen", "network", "locale"})


def _mask_whole(value: object, kind: str) -> object:
    """Every scalar inside `value` masked, the shape kept (an address keeps its place names)."""
    if isinstance(value, dict):
        return {k: v if _flat(k) in _PLACE_KEYS else _mask_whole(v, kind) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_whole(v, kind) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return mask_identifier(kind, str(value))


def mask_personal(value: object) -> object:
    """A copy of `value` (a dict of traits, properties or context) with personal data masked."""
    if isinstance(value, dict):
        masked = {}
        for key, item in value.items():
            if is_personal_key(key):
                flat = _flat(key)
                kind = "phone" if ("phone" in flat or "mobile" in flat) else flat
                masked[key] = _mask_whole(item, kind)
            else:
                masked[key] = mask_personal(item)
        return masked
    if isinstance(value, list):
        return [mask_personal(item) for item in value]
    if isinstance(value, str) and _EMAIL.fullmatch(value.strip()):
        return mask_email(value.strip())
    return value


def mask_traits(traits: dict) -> dict:
    """A copy of a profile's or an event's traits with the personal ones masked."""
    return mask_personal(traits or {})


def mask_event_payload(payload: dict) -> dict:
    """An event as shown to people (the timeline, the API) with its personal data masked.

    The ids, traits, properties and context at any depth (context.externalIds, device ids and
    the IP address included); the IP is dropped altogether.
    """
    masked = dict(payload)
    for key in ("userId", "anonymousId", "previousId"):
        if masked.get(key):
            masked[key] = mask_identifier(key, masked[key])
    for key in ("traits", "properties"):
        masked[key] = mask_personal(masked.get(key) or {})
    context = dict(masked.get("context") or {})
    context.pop("ip", None)
    device = context.get("device")
    if isinstance(device, dict):
        # Device ids identify a person (resolution matches on them) under a plain "id" key.
        context["device"] = {
            key: _mask_whole(value, "device_id") if key in _DEVICE_ID_KEYS else value
            for key, value in device.items()
        }
    software = {key: context.pop(key) for key in list(context) if key in _SOFTWARE_CONTEXT_KEYS}
    masked["context"] = {**mask_personal(context), **software}
    return masked
