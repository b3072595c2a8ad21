"""Identifiers normalised as ad platforms specify, then SHA-256 hashed before they leave us.

Meta (Custom Audiences) asks for e-mails trimmed and lower-cased, and phones as digits only with
the country code and no leading zeros, each hashed as lower-case SHA-256 hex. Identity resolution
already keeps phones in E.164 ("+447700900123"); a phone kept otherwise is parsed with the
deployment's default region so it still gets its country code. A value that cannot be normalised
is left out rather than sent in a form that would never match.
"""

import hashlib

import phonenumbers
from django.conf import settings


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def email_normalise(value: str) -> str | None:
    email = value.strip().lower()
    return email if "@" in email else None


def phone_normalise(value: str) -> str | None:
    """Digits with the country code, no '+', no leading zeros: "+44 7700 900123" -> 447700900123."""
    text = value.strip()
    region = None if text.startswith("+") else settings.CDP_PHONE_DEFAULT_REGION
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return digits.lstrip("0") or None


def hashed_email(value: str | None) -> str:
    """The hash Meta matches on, or "" (Meta's "unknown") when there is no usable e-mail."""
    email = email_normalise(value) if value else None
    return sha256_hex(email) if email else ""


def hashed_phone(value: str | None) -> str:
    phone = phone_normalise(value) if value else None
    return sha256_hex(phone) if phone else ""
