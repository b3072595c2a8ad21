"""Identifiers of a message, normalised so the same person's values match, and the rules on them.

E-mails are validated and lower-cased with `email-validator` (no DNS lookups); phone numbers are
parsed to E.164 with `phonenumbers`, reading numbers written without a country code in the region
`CDP_PHONE_DEFAULT_REGION`. A value that does not normalise is kept as a trait but never matched.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.conf import settings
from email_validator import EmailNotValidError, validate_email

# Values never used to match, whatever the kind (Segment's suggested blocked values, and the
# strings SDKs write when a variable was empty).
GLOBAL_BLOCKED = (r"^[0-]*$", r"^-1$", r"^null$", r"^anonymous$", r"^undefined$", r"^none$", r"^$")
# One expression for all of them: every identifier of every event is checked against it.
_GLOBAL_BLOCKED_RE = re.compile("|".join(f"(?:{p})" for p in GLOBAL_BLOCKED), re.IGNORECASE)

# Segment's defaults: user_id first, then email, then every other kind alphabetically.
DEFAULT_RULES: dict[str, tuple[int, int]] = {"user_id": (1, 1), "email": (5, 2)}
DEFAULT_LIMIT = 5
DEFAULT_PRIORITY = 100

MAX_VALUE_LENGTH = 512


@dataclass(frozen=True)
class Rule:
    kind: str
    limit: int
    priority: int
    blocked: tuple[re.Pattern, ...] = ()

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.priority, self.kind)


class RuleBook:
    """The identity rules in force: a configured `IdentityRule` row wins over the default."""

    def __init__(self, rules: Iterable[Rule] = ()):
        self._rules = {rule.kind: rule for rule in rules}

    @classmethod
    def load(cls) -> "RuleBook":
        from .models import IdentityRule

        rules = []
        for row in IdentityRule.objects.all():
            patterns = []
            for pattern in row.blocked_values or []:
                try:
                    patterns.append(re.compile(str(pattern), re.IGNORECASE))
                except re.error:
                    continue  # an invalid expression blocks nothing rather than everything
            rules.append(Rule(row.kind, row.limit, row.priority, tuple(patterns)))
        return cls(rules)

    def rule(self, kind: str) -> Rule:
        rule = self._rules.get(kind)
        if rule is None:
            limit, priority = DEFAULT_RULES.get(kind, (DEFAULT_LIMIT, DEFAULT_PRIORITY))
            rule = Rule(kind, limit, priority)
            self._rules[kind] = rule
        return rule

    def is_blocked(self, kind: str, value: str) -> bool:
        if _GLOBAL_BLOCKED_RE.fullmatch(value):
            return True
        blocked = self.rule(kind).blocked
        return bool(blocked) and any(p.fullmatch(value) for p in blocked)


def email_normalise(value: object) -> str | None:
    """`  Jane.Doe@Example.COM ` -> `jane.doe@example.com`; None when it is not an e-mail."""
    if not isinstance(value, str) or "@" not in value:
        return None
    return _email(value.strip())


@lru_cache(maxsize=65536)
def _email(value: str) -> str | None:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def phone_normalise(value: object, region: str | None = None) -> str | None:
    """Any common way of writing a phone number -> E.164 (`+14155550123`); None when invalid."""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    region = region or getattr(settings, "CDP_PHONE_DEFAULT_REGION", "US")
    return _phone(value.strip(), region)


@lru_cache(maxsize=65536)
def _phone(value: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _plain(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_VALUE_LENGTH:
        return None
    return value


def _kind_name(value: object) -> str | None:
    text = _plain(value)
    if text is None:
        return None
    return re.sub(r"[^a-z0-9_.]+", "_", text.lower())[:64] or None


def identifiers_extract(
    *,
    user_id: str = "",
    anonymous_id: str = "",
    previous_id: str = "",
    event_type: str = "",
    traits: Mapping | None = None,
    context: Mapping | None = None,
    rules: RuleBook,
) -> list[tuple[str, str]]:
    """The usable (kind, normalised value) pairs of one message, in rule priority order.

    An `alias` message's previousId is the id the person was known by before sign-up; Segment's
    clients send the anonymous id there, so it is matched as one.
    """
    traits = traits if isinstance(traits, Mapping) else {}
    context = context if isinstance(context, Mapping) else {}
    context_traits = context.get("traits") if isinstance(context.get("traits"), Mapping) else {}
    found: dict[tuple[str, str], None] = {}

    def add(kind: str | None, value: str | None) -> None:
        if kind and value and not rules.is_blocked(kind, value):
            found[(kind, value)] = None

    add("user_id", _plain(user_id))
    add("anonymous_id", _plain(anonymous_id))
    if event_type == "alias":
        add("anonymous_id", _plain(previous_id))
    for bag in (traits, context_traits):
        add("email", email_normalise(bag.get("email")))
        add("phone", phone_normalise(bag.get("phone")))
    device = context.get("device")
    if isinstance(device, Mapping):
        add("device_id", _plain(device.get("id")))
    external = context.get("externalIds")
    if isinstance(external, list):
        for item in external[:20]:
            if not isinstance(item, Mapping):
                continue
            kind = _kind_name(item.get("type"))
            if kind == "email":
                add(kind, email_normalise(item.get("id")))
            elif kind == "phone":
                add(kind, phone_normalise(item.get("id")))
            elif kind:
                add(kind, _plain(item.get("id")))
    return sorted(found, key=lambda pair: rules.rule(pair[0]).sort_key)


def event_identifiers(event: Mapping, rules: RuleBook) -> list[tuple[str, str]]:
    """`identifiers_extract` of a stored event read as a row (`user_id`, `anonymous_id`,
    `previous_id`, `type`, `traits`, `context`)."""
    return identifiers_extract(
        user_id=event["user_id"],
        anonymous_id=event["anonymous_id"],
        previous_id=event["previous_id"],
        event_type=event["type"],
        traits=event["traits"],
        context=event["context"],
        rules=rules,
    )
