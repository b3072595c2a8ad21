"""Masking of personal data for people whose role does not need to see it in full."""

import re

# Trait keys whose values identify a person; everything else (plan, country, counts) is shown.
PERSONAL_TRAIT_KEYS = frozenset(
    {
        "email",
        "phone",
        "name",
        "first_name",
        "firstName",
        "last_name",
        "lastName",
        "address",
        "street",
        "birthday",
        "ip",
    }
)


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
    if kind == "email":
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    return mask_text(value)


def mask_traits(traits: dict) -> dict:
    """A copy of `traits` with the personal ones masked."""
    masked = {}
    for key, value in traits.items():
        if key in PERSONAL_TRAIT_KEYS and isinstance(value, str):
            masked[key] = mask_identifier(key, value)
        else:
            masked[key] = value
    return masked
