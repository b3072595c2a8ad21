"""Automatic classification of a field from its key and the values seen: pure functions.

A field is sensitive (payment cards, bank accounts, national ids, passwords, health), personal
(names, contacts, addresses, birthdays, locations, identifiers, free text) or not personal; when
neither the key nor the values say, it stays unknown, which is masked like personal data until
the values repeat enough to be categories (plans, countries) or a person says it is safe.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from . import detectors

SENSITIVE = "sensitive"
PERSONAL = "personal"
UNKNOWN = "unknown"
NOT_PERSONAL = "not_personal"

# How strict each class is: automatic classification only ever moves a field up this scale
# (or out of unknown), a person can move it anywhere.
STRICTNESS = {NOT_PERSONAL: 0, UNKNOWN: 1, PERSONAL: 2, SENSITIVE: 3}

# Key words (compared lower-cased, without separators) naming sensitive data...
_SENSITIVE_FLAT = (
    "socialsecurity",
    "nationalid",
    "nationalinsurance",
    "passport",
    "taxid",
    "taxnumber",
    "iban",
    "creditcard",
    "debitcard",
    "cardnumber",
    "ccnumber",
    "bankaccount",
    "accountnumber",
    "routingnumber",
    "sortcode",
    "password",
    "passwd",
    "secret",
    "health",
    "diagnosis",
    "medical",
    "religion",
    "ethnicity",
    "sexualorientation",
    "driverslicense",
    "driverlicense",
)
# Whole words (tokens of the key) naming sensitive data: too short to match inside other words.
_SENSITIVE_TOKENS = frozenset({"ssn", "sin", "nino", "bic", "cvv", "cvc", "pin"})
# ...and personal data, matched anywhere in the flattened key (`customerEmail`, `billing_phone`).
_PERSONAL_FLAT = (
    "email",
    "phone",
    "mobile",
    "telephone",
    "address",
    "street",
    "postal",
    "zipcode",
    "postcode",
    "birth",
    "surname",
    "firstname",
    "lastname",
    "fullname",
    "givenname",
    "familyname",
    "middlename",
    "maidenname",
    "nickname",
    "username",
    "displayname",
    "contactperson",
    "latitude",
    "longitude",
    "coordinates",
    "userid",
    "anonymousid",
    "deviceid",
    "advertisingid",
    "externalid",
    "customerid",
    "ipaddress",
    "useragent",
)
# Whole words (tokens of the key) naming personal data: too short to match inside other words.
_PERSONAL_TOKENS = frozenset(
    {
        "name",
        "fname",
        "lname",
        "mail",
        "tel",
        "cell",
        "fax",
        "contact",
        "person",
        "dob",
        "age",
        "gender",
        "sex",
        "bio",
        "about",
        "notes",
        "note",
        "comment",
        "comments",
        "message",
        "signature",
        "ip",
        "lat",
        "lng",
        "lon",
        "geo",
        "location",
        "zip",
        "photo",
        "avatar",
        "salary",
        "income",
    }
)
# A `name` or `id` is not a person's when the key says whose it is.
_THING_TOKENS = frozenset(
    {
        "product",
        "item",
        "event",
        "page",
        "screen",
        "campaign",
        "plan",
        "category",
        "brand",
        "app",
        "library",
        "os",
        "browser",
        "company",
        "list",
        "step",
        "coupon",
        "promotion",
        "store",
        "shop",
        "file",
        "variant",
        "tier",
        "order",
        "cart",
        "checkout",
        "sku",
        "network",
        "carrier",
        "model",
        "ticket",
        "message",
        "country",
        "city",
        "region",
        "currency",
        "source",
        "medium",
        "utm",
        "referrer",
        "locale",
        "timezone",
        "language",
    }
)
# Keys people use for categories and measures: not personal unless the values say otherwise.
_SAFE_TOKENS = frozenset(
    {
        "plan",
        "tier",
        "country",
        "countrycode",
        "city",
        "state",
        "region",
        "province",
        "currency",
        "status",
        "category",
        "product",
        "sku",
        "brand",
        "campaign",
        "source",
        "medium",
        "content",
        "term",
        "utm",
        "language",
        "locale",
        "timezone",
        "browser",
        "os",
        "version",
        "library",
        "type",
        "price",
        "revenue",
        "total",
        "amount",
        "quantity",
        "count",
        "value",
        "discount",
        "tax",
        "shipping",
        "url",
        "path",
        "title",
        "referrer",
        "search",
        "channel",
        "segment",
        "step",
        "screen",
        "width",
        "height",
        "density",
        "industry",
        "size",
        "employees",
        "at",
        "date",
        "time",
        "timestamp",
        "seen",
        "days",
        "signup",
        "ltv",
        "clv",
        "aov",
        "score",
        "orders",
        "visits",
        "sessions",
        "purchases",
        "spend",
        "spent",
        "points",
        "rfm",
    }
)
# Person nouns that make an `id` a person's identifier (`customer_id`, `member_id`).
_PERSON_ID_OWNERS = frozenset(
    {
        "user",
        "customer",
        "member",
        "account",
        "person",
        "visitor",
        "client",
        "subscriber",
        # Ids of what a person carries identify the person (resolution matches on them).
        "device",
        "advertising",
        "anonymous",
        "session",
        "cookie",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")

# Values that repeat: at most this many distinct ones, each held by at least this many records.
CATEGORY_LIMIT = 50
CATEGORY_MIN_SHARED = 3
# Shares of the sampled values that make a field free text, names or birth dates.
FREE_TEXT_SHARE = 0.2
NAME_SHARE = 0.3
BIRTH_SHARE = 0.5


def key_tokens(path: str) -> list[str]:
    """The words of a dotted key path: `company.contactPerson` -> company, contact, person."""
    return [t for t in _SPLIT.split(_CAMEL.sub("_", path).lower()) if t]


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class FieldSample:
    """What the scan saw of one field: its type, how often, how many distinct values, and the
    most common values (each with its count) that serve as the sample the detectors read."""

    path: str
    value_type: str = "string"
    seen: int = 0
    distinct: int = 0
    values: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    classification: str
    evidence: tuple[str, ...]


def classify_key(path: str, *, owner: str = "") -> tuple[str | None, str]:
    """What the key alone says: (class or None, why). The last part of the path decides; the
    parts before it, and `owner` (a property's event, `Product Viewed`), say whose a `name` or
    `id` is."""
    parts = path.split(".")
    leaf = parts[-1]
    tokens = key_tokens(leaf)
    owners = set(key_tokens(".".join(parts[:-1]))) | set(tokens[:-1]) | set(key_tokens(owner))
    flat = _flat(leaf)
    for word in _SENSITIVE_FLAT:
        if word in flat:
            return SENSITIVE, f"the key “{leaf}” names sensitive data ({word})"
    for word in tokens:
        if word in _SENSITIVE_TOKENS:
            return SENSITIVE, f"the key “{leaf}” names sensitive data ({word})"
    for word in _PERSONAL_FLAT:
        if word in flat:
            return PERSONAL, f"the key “{leaf}” names personal data ({word})"
    for word in tokens:
        if word in _PERSONAL_TOKENS:
            if word == "name" and owners & _THING_TOKENS:
                continue
            return PERSONAL, f"the key “{leaf}” names personal data ({word})"
    if tokens and tokens[-1] == "id" and (owners | set(tokens)) & _PERSON_ID_OWNERS:
        return PERSONAL, f"the key “{leaf}” is a person's identifier"
    if tokens and tokens[-1] == "id" and owners & _THING_TOKENS:
        return NOT_PERSONAL, f"the key “{leaf}” identifies a thing, not a person"
    if tokens and (tokens[-1] in _SAFE_TOKENS or flat in _SAFE_TOKENS):
        return NOT_PERSONAL, f"the key “{leaf}” names a category or a measure"
    return None, ""


def _share(hits: int, total: int) -> str:
    return f"{hits} of {total} sampled values"


def classify_values(
    sample: FieldSample, *, today: dt.date, coordinates: bool = False
) -> list[tuple[str, str]]:
    """What the values say: every (class, why) a detector found. `coordinates` says the key
    names a latitude or longitude, so plain decimals count as positions."""
    texts = [text for text, _count in sample.values if text not in ("", "null")]
    total = len(texts)
    if not total:
        return []
    found: list[tuple[str, str]] = []

    def count(test) -> int:
        return sum(1 for text in texts if test(text))

    checks = (
        (SENSITIVE, detectors.has_card, "look like payment card numbers (Luhn check)"),
        (SENSITIVE, detectors.has_iban, "are IBANs (checksum)"),
        (SENSITIVE, detectors.has_national_id, "have the shape of national id numbers"),
        (PERSONAL, detectors.has_email, "hold e-mail addresses"),
        (PERSONAL, detectors.has_phone, "hold telephone numbers"),
        (PERSONAL, detectors.is_coordinate_pair, "are map coordinates"),
    )
    for klass, test, words in checks:
        hits = count(test)
        if hits:
            found.append((klass, f"{_share(hits, total)} {words}"))
    if coordinates:
        hits = count(detectors.is_coordinate)
        if hits:
            found.append((PERSONAL, f"{_share(hits, total)} are coordinates"))
    births = count(lambda text: detectors.is_birth_date(text, today=today))
    if births and births / total >= BIRTH_SHARE:
        found.append((PERSONAL, f"{_share(births, total)} read as dates of birth"))
    if sample.value_type == "string":
        free = count(detectors.is_free_text)
        if free and free / total >= FREE_TEXT_SHARE:
            found.append((PERSONAL, f"{_share(free, total)} are free text"))
        names = count(detectors.is_person_name)
        if names and names / total >= NAME_SHARE and not _is_category(sample):
            found.append((PERSONAL, f"{_share(names, total)} read as people's names"))
    return found


def _is_category(sample: FieldSample) -> bool:
    """The values repeat: few distinct ones, each shared by several records."""
    if not sample.values or sample.distinct > CATEGORY_LIMIT:
        return False
    return min(count for _text, count in sample.values) >= CATEGORY_MIN_SHARED


def classify_field(sample: FieldSample, *, today: dt.date, owner: str = "") -> Verdict:
    """The class of a field from its key (and `owner`, a property's event) and the values
    sampled, with the evidence."""
    key_class, key_why = classify_key(sample.path, owner=owner)
    leaf_tokens = set(key_tokens(sample.path.split(".")[-1]))
    coordinates = bool(leaf_tokens & {"lat", "lng", "lon", "latitude", "longitude"})
    found = classify_values(sample, today=today, coordinates=coordinates)
    if key_class in (SENSITIVE, PERSONAL):
        found.insert(0, (key_class, key_why))
    if found:
        strictest = max((klass for klass, _why in found), key=STRICTNESS.__getitem__)
        return Verdict(strictest, tuple(why for _klass, why in found))
    if key_class == NOT_PERSONAL:
        return Verdict(NOT_PERSONAL, (key_why + ", and no value looks personal",))
    if sample.value_type == "boolean":
        return Verdict(NOT_PERSONAL, ("the values are true or false",))
    if sample.value_type in ("string", "list") and _is_category(sample):
        return Verdict(
            NOT_PERSONAL,
            (
                f"the values repeat ({sample.distinct} distinct, each seen at least "
                f"{CATEGORY_MIN_SHARED} times) and none looks personal",
            ),
        )
    if sample.value_type == "number" and _is_category(sample):
        return Verdict(NOT_PERSONAL, ("the numbers repeat and none looks personal",))
    return Verdict(
        UNKNOWN, ("neither the key nor the values say what this is; masked until known",)
    )


def stricter(current: str, proposed: str) -> bool:
    """Whether automatic classification may move a field from `current` to `proposed`: out of
    unknown to anything, otherwise only to a stricter class."""
    if current == UNKNOWN:
        return proposed != UNKNOWN
    return STRICTNESS[proposed] > STRICTNESS[current]
