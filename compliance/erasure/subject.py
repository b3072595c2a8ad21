"""Whom a request is about: its identifiers normalised as identity resolution normalises them,
the profiles they lead to (merged-away ones included), and every spelling worth searching for."""

import re
from collections.abc import Mapping

import phonenumbers
from django.conf import settings

from cdp_site.erasure import Subject
from cdp_site.errors import InvalidInputError
from profiles.erasure import subject_identities, subject_profile_ids
from profiles.normalise import MAX_VALUE_LENGTH, email_normalise, phone_normalise

MAX_VALUES_PER_KIND = 20


def _kind(name: object) -> str:
    kind = re.sub(r"[^a-z0-9_.]+", "_", str(name).strip().lower())[:64]
    if not kind:
        raise InvalidInputError("An identifier kind may not be empty.", field="identifiers")
    return kind


def _listed(value: object) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in values:
        if isinstance(item, bool) or item is None:
            continue
        text = str(item).strip() if isinstance(item, str | int | float) else ""
        if text:
            out.append(text)
    return out


def identifiers_clean(raw: object) -> dict[str, list[str]]:
    """{kind: [values as given, trimmed]}: InvalidInputError when nothing usable is there, or an
    e-mail or phone number does not normalise (identity resolution would never match it)."""
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            "identifiers must be an object of kind: value.", field="identifiers"
        )
    cleaned: dict[str, list[str]] = {}
    for name, value in raw.items():
        kind = _kind(name)
        values = _listed(value)
        if len(values) > MAX_VALUES_PER_KIND:
            raise InvalidInputError(
                f"At most {MAX_VALUES_PER_KIND} values per kind.", field="identifiers"
            )
        for text in values:
            if len(text) > MAX_VALUE_LENGTH:
                raise InvalidInputError("An identifier is too long.", field="identifiers")
            if kind == "email" and email_normalise(text) is None:
                raise InvalidInputError("That is not a valid e-mail address.", field="email")
            if kind == "phone" and phone_normalise(text) is None:
                raise InvalidInputError("That is not a valid phone number.", field="phone")
        if values:
            cleaned.setdefault(kind, [])
            cleaned[kind].extend(v for v in values if v not in cleaned[kind])
    if not cleaned:
        raise InvalidInputError("Give at least one identifier of the person.", field="identifiers")
    return cleaned


def normalised(kind: str, value: str) -> str | None:
    if kind == "email":
        return email_normalise(value)
    if kind == "phone":
        return phone_normalise(value)
    return value.strip() or None


def spellings(kind: str, value: str) -> set[str]:
    """The ways a value may have been written elsewhere: as given and normalised, and a phone
    number in its international, national and digits-only forms."""
    found = {value.strip()}
    norm = normalised(kind, value)
    if norm:
        found.add(norm)
    if kind == "phone" and norm:
        region = getattr(settings, "CDP_PHONE_DEFAULT_REGION", "US")
        number = phonenumbers.parse(norm, region)
        for form in (
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
        ):
            found.add(phonenumbers.format_number(number, form))
        found.add(norm.lstrip("+"))
    return {text for text in found if text}


def subject_build(identifiers: Mapping[str, list[str]], known: Mapping | None = None) -> Subject:
    """The subject of `identifiers` ({kind: values as given}), widened by every identity of the
    profiles they lead to and by `known` (what an earlier run of the request found)."""
    pairs: dict[tuple[str, str], None] = {}
    values: set[str] = set()
    for kind, given in identifiers.items():
        for value in given:
            norm = normalised(kind, value)
            if norm:
                pairs[(kind, norm)] = None
            values |= spellings(kind, value)
    for kind, given in (known or {}).get("identifiers", {}).items():
        for value in given:
            pairs[(kind, value)] = None
            values |= spellings(kind, value)
    profile_ids = set(subject_profile_ids(pairs)) | set((known or {}).get("profile_ids", []))
    for kind, value in subject_identities(profile_ids):
        pairs[(kind, value)] = None
        values |= spellings(kind, value)
    by_kind: dict[str, list[str]] = {}
    for kind, value in pairs:
        by_kind.setdefault(kind, []).append(value)
    return Subject(
        identifiers={kind: tuple(sorted(vals)) for kind, vals in sorted(by_kind.items())},
        values=tuple(sorted(values)),
        profile_ids=frozenset(profile_ids),
    )


def subject_record(subject: Subject) -> dict:
    """The subject as a request keeps it for its next run."""
    return {
        "identifiers": {kind: list(values) for kind, values in subject.identifiers.items()},
        "profile_ids": sorted(subject.profile_ids),
    }
