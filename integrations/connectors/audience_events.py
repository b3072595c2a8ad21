"""Membership changes as Segment-spec track events, for destinations that take events.

An entry becomes `Audience Entered`, an exit `Audience Exited`, an erasure `Subject Deleted`: the
shapes Segment's own audience events have (`properties.audience_key`, the audience key as a boolean
property, the person's traits in `context.traits`), so a receiver that already handles Segment
audience events handles ours. The message id is derived from the batch id, so a retried batch
carries the same ids and a receiver can de-duplicate on them.
"""

import hashlib
from collections.abc import Iterator, Sequence

from django.utils import timezone

from integrations.connectors.base import AudienceRecord, DeliveryBatch

ENTERED = "Audience Entered"
EXITED = "Audience Exited"
SUBJECT_DELETED = "Subject Deleted"
LIBRARY = {"name": "cdp-destinations", "version": "1"}
# Identifier kinds a profile may carry, in the order `context.externalIds` lists them.
IDENTIFIER_KINDS = ("user_id", "email", "phone", "anonymous_id")


def first(identifiers: dict, kind: str) -> str | None:
    """The profile's main identifier of one kind (identity resolution lists it first)."""
    values = identifiers.get(kind) or ()
    return next((value for value in values if value), None)


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _message_id(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"cdp-{digest[:40]}"


def _who(identifiers: dict, fallback: str) -> dict:
    """userId when the profile has one, else its anonymous id, else one named after the profile.

    The tracking spec requires one of the two; a profile known only by e-mail still gets a stable
    anonymousId, and its e-mail travels in `context.traits`.
    """
    user_id = first(identifiers, "user_id")
    if user_id:
        return {"userId": user_id}
    return {"anonymousId": first(identifiers, "anonymous_id") or fallback}


def _external_ids(identifiers: dict) -> list[dict]:
    return [
        {"id": value, "type": kind, "collection": "users", "encoding": "none"}
        for kind in IDENTIFIER_KINDS
        for value in identifiers.get(kind) or ()
        if value
    ]


def _traits(record: AudienceRecord) -> dict:
    traits = dict(record.traits)
    for kind in ("email", "phone"):
        value = first(record.identifiers, kind)
        if value and kind not in traits:
            traits[kind] = value
    return traits


def audience_event(
    batch: DeliveryBatch, record: AudienceRecord, *, entered: bool, timestamp: str
) -> dict:
    return {
        "type": "track",
        "event": ENTERED if entered else EXITED,
        **_who(record.identifiers, f"cdp-profile-{record.profile_id}"),
        "messageId": _message_id(batch.batch_id, record.profile_id, entered),
        "timestamp": timestamp,
        "properties": {
            "audience_key": batch.audience_key,
            "audience_name": batch.audience_name,
            batch.audience_key: entered,
        },
        "context": {
            "traits": _traits(record),
            "externalIds": _external_ids(record.identifiers),
            "library": LIBRARY,
            "cdp": {"profile_id": record.profile_id, "batch_id": batch.batch_id},
        },
    }


def audience_events(batch: DeliveryBatch) -> list[dict]:
    """Every change of the batch as an event: entries first, then exits."""
    now = timezone.now().isoformat()
    return [audience_event(batch, r, entered=True, timestamp=now) for r in batch.entered] + [
        audience_event(batch, r, entered=False, timestamp=now) for r in batch.exited
    ]


def subject_deleted_event(identifiers: dict, *, request_key: str) -> dict:
    """An erasure request as an event: the receiver deletes everything it holds on these ids."""
    return {
        "type": "track",
        "event": SUBJECT_DELETED,
        **_who(identifiers, f"cdp-erasure-{request_key}"),
        "messageId": _message_id("subject-delete", request_key),
        "timestamp": timezone.now().isoformat(),
        "properties": {"identifiers": {k: list(v) for k, v in identifiers.items() if v}},
        "context": {"externalIds": _external_ids(identifiers), "library": LIBRARY},
    }


def identifiers_key(identifiers: dict) -> str:
    """A stable key for one set of identifiers (the same erasure request asked twice)."""
    canonical = "|".join(
        f"{kind}={','.join(sorted(map(str, identifiers.get(kind) or ())))}"
        for kind in sorted(identifiers)
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
