"""The suppression list: keyed hashes of an erased person's identifiers, never the values.

A hash is HMAC-SHA256 of "kind:normalised value" under a key derived from a setting
(`CDP_SUPPRESSION_KEY`, else `SECRET_KEY`), so the list proves nothing to someone who reads it
without the key, and a guessed e-mail cannot be checked against it offline. Changing the key
empties the list in effect: keep it when rotating `SECRET_KEY`, by setting `CDP_SUPPRESSION_KEY`.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings
from django.db import connection
from django.db.models import F

from cdp_site import db
from cdp_site.erasure import Subject
from profiles.normalise import (
    MAX_VALUE_LENGTH,
    RuleBook,
    email_normalise,
    identifiers_extract,
    phone_normalise,
)

from .models import DataSubjectRequest, SuppressedDrop, Suppression

# Positions of the identifying values in an event store row (`profiles.event_store`).
_ROW_TYPE, _ROW_USER_ID, _ROW_ANONYMOUS_ID, _ROW_PREVIOUS_ID = 1, 4, 5, 7
_ROW_TRAITS, _ROW_CONTEXT = 8, 10


def _key() -> bytes:
    configured = getattr(settings, "CDP_SUPPRESSION_KEY", "") or ""
    seed = configured or f"cdp-suppression:{settings.SECRET_KEY}"
    return hashlib.sha256(seed.encode()).digest()


def _digester():
    """`digest(kind, value)` under the key in force, the keyed state prepared once: a batch
    hashes thousands of identifiers."""
    keyed = hmac.new(_key(), digestmod=hashlib.sha256)

    def digest(kind: str, value: str) -> str:
        one = keyed.copy()
        one.update(f"{kind}:{value}".encode())
        return one.hexdigest()

    return digest


def identifier_digest(kind: str, value: str) -> str:
    return _digester()(kind, value)


def suppression_add(*, subject: Subject, request: DataSubjectRequest) -> int:
    """Put every identifier of the subject on the list; answers how many were new."""
    rows = [
        Suppression(kind=kind, digest=identifier_digest(kind, value), request=request)
        for kind, value in subject.pairs()
    ]
    before = Suppression.objects.filter(digest__in=[row.digest for row in rows]).count()
    Suppression.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows) - before


def suppressed_digests(digests: Iterable[str]) -> set[str]:
    """Which of `digests` are on the list: one query."""
    digests = list(set(digests))
    if not digests:
        return set()
    if connection.vendor == "postgresql":
        # One array parameter, not thousands of placeholders: a batch of 2,500 messages carries
        # up to 10,000 identifiers, and planning the long IN list cost more than the lookup.
        table = Suppression._meta.db_table
        rows = db.fetchall(f"SELECT digest FROM {table} WHERE digest = ANY(%s)", [digests])  # noqa: S608 - the model's own table
        return {digest for (digest,) in rows}
    return set(Suppression.objects.filter(digest__in=digests).values_list("digest", flat=True))


# Identifiers written the way they are normalised already take the fast way: an ASCII e-mail
# of the common shape normalises to itself lower-cased, a phone already in E.164 to itself. Only
# other spellings go through `email_normalise` and `phone_normalise`, which cost about 40 us each
# on a value not seen before, more than the rest of the ingest path per message.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9](?:[a-z0-9_%+-]|\.(?!\.))*(?<!\.)@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def _email(value: object) -> str | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if len(text) <= 254 and _SIMPLE_EMAIL.fullmatch(text):
            return text
    return email_normalise(value)


def _phone(value: object) -> str | None:
    if isinstance(value, str) and _E164.fullmatch(value.strip()):
        return value.strip()
    return phone_normalise(value)


def _plain(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= MAX_VALUE_LENGTH else None


def row_identifiers(row: tuple) -> set[tuple[str, str]]:
    """The (kind, normalised value) pairs of an event store row, as identity resolution finds
    them (`profiles.normalise.identifiers_extract`, whose rules a test holds this to), quickly."""
    found: set[tuple[str, str]] = set()

    def add(kind: str | None, value: str | None) -> None:
        if kind and value:
            found.add((kind, value))

    traits, context = row[_ROW_TRAITS], row[_ROW_CONTEXT]
    traits = traits if isinstance(traits, Mapping) else {}
    context = context if isinstance(context, Mapping) else {}
    context_traits = context.get("traits") if isinstance(context.get("traits"), Mapping) else {}
    add("user_id", _plain(row[_ROW_USER_ID]))
    add("anonymous_id", _plain(row[_ROW_ANONYMOUS_ID]))
    if row[_ROW_TYPE] == "alias":
        add("anonymous_id", _plain(row[_ROW_PREVIOUS_ID]))
    for bag in (traits, context_traits):
        if "email" in bag:
            add("email", _email(bag.get("email")))
        if "phone" in bag:
            add("phone", _phone(bag.get("phone")))
    if "device" in context or "externalIds" in context:
        # Rarer kinds: through identity resolution's own reading.
        found.update(
            identifiers_extract(
                user_id="",
                anonymous_id="",
                event_type="",
                traits={},
                context={k: context[k] for k in ("device", "externalIds") if k in context},
                rules=RuleBook(),
            )
        )
    return found


def rows_suppressed(rows: Sequence[tuple]) -> list[int]:
    """Indexes of event store rows that identify a suppressed person, in one query per batch."""
    digest = _digester()
    per_row = [[digest(kind, value) for kind, value in row_identifiers(row)] for row in rows]
    hit = suppressed_digests(digest for digests in per_row for digest in digests)
    if not hit:
        return []
    return [index for index, digests in enumerate(per_row) if hit.intersection(digests)]


def suppressed_drops_record(*, source_id: int, count: int, day) -> None:
    """Add `count` dropped messages to the source's count of the day."""
    if count <= 0:
        return
    row, created = SuppressedDrop.objects.get_or_create(
        source_id=source_id, day=day, defaults={"count": count}
    )
    if not created:
        SuppressedDrop.objects.filter(pk=row.pk).update(count=F("count") + count)


def on_suppressed_messages_dropped(sender, *, source_id: int, count: int, day, **_kwargs) -> None:
    suppressed_drops_record(source_id=source_id, count=count, day=day)
