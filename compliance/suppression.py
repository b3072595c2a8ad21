"""The suppression list: keyed hashes of an erased person's identifiers, never the values.

A hash is HMAC-SHA256 of "kind:normalised value" under a key derived from a setting
(`CDP_SUPPRESSION_KEY`, else `SECRET_KEY`), so the list proves nothing to someone who reads it
without the key, and a guessed e-mail cannot be checked against it offline. Changing the key
empties the list in effect: keep it when rotating `SECRET_KEY`, by setting `CDP_SUPPRESSION_KEY`.
"""

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db.models import F

from cdp_site.erasure import Subject
from profiles.normalise import RuleBook, identifiers_extract

from .models import DataSubjectRequest, SuppressedDrop, Suppression

# Positions of the identifying values in an event store row (`profiles.event_store`).
_ROW_TYPE, _ROW_USER_ID, _ROW_ANONYMOUS_ID, _ROW_PREVIOUS_ID = 1, 4, 5, 7
_ROW_TRAITS, _ROW_CONTEXT = 8, 10


def _key() -> bytes:
    configured = getattr(settings, "CDP_SUPPRESSION_KEY", "") or ""
    seed = configured or f"cdp-suppression:{settings.SECRET_KEY}"
    return hashlib.sha256(seed.encode()).digest()


def identifier_digest(kind: str, value: str) -> str:
    return hmac.new(_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


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
    return set(Suppression.objects.filter(digest__in=digests).values_list("digest", flat=True))


def rows_suppressed(rows: Sequence[tuple]) -> list[int]:
    """Indexes of event store rows that identify a suppressed person, in one query per batch."""
    rules = RuleBook()
    per_row = []
    for row in rows:
        pairs = identifiers_extract(
            user_id=row[_ROW_USER_ID],
            anonymous_id=row[_ROW_ANONYMOUS_ID],
            previous_id=row[_ROW_PREVIOUS_ID],
            event_type=row[_ROW_TYPE],
            traits=row[_ROW_TRAITS],
            context=row[_ROW_CONTEXT],
            rules=rules,
        )
        per_row.append([identifier_digest(kind, value) for kind, value in pairs])
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
