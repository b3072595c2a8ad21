"""Ingestion of Segment-spec messages: validate, fix the clock, store in bulk, quarantine the rest.

`tracking_messages_ingest` is the one entry point: the HTTP views under /v1/ call it after parsing
the request, and so does anything that feeds events without HTTP. It keeps no per-message model
objects on the way in: each valid message becomes one tuple for `profiles.event_store`.
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from django.db import transaction
from django.utils import timezone

from cdp_site.params import is_number, storable_text
from cdp_site.signals import suppressed_messages_dropped
from compliance.selectors import rows_suppressed
from integrations.models import QuarantinedMessage, Source
from profiles.event_store import events_store
from profiles.models import Event

MAX_MESSAGE_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MAX_PROPERTIES = 300
# PostgreSQL keeps time zone offsets under 16 hours; ISO-8601 allows up to 24.
MAX_UTC_OFFSET = timedelta(hours=16)

MESSAGE_TYPES = frozenset(Event.Type.values)
# Maximum lengths, as the event store's columns hold them.
MAX_LENGTHS = {
    "messageId": 100,
    "event": 200,
    "name": 200,
    "userId": 255,
    "anonymousId": 255,
    "groupId": 500,
    "previousId": 255,
}
# A JSON-escaped NUL character that is not itself an escaped backslash followed by "u0000":
# PostgreSQL cannot keep NUL in text or jsonb.
_ESCAPED_NUL = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\u0000")


@dataclass(frozen=True)
class IngestResult:
    accepted: int  # new events stored
    duplicates: int  # valid messages whose (source, messageId) was already stored
    rejected: list[dict]  # [{"index", "code", "message"}], each also quarantined
    suppressed: int = 0  # valid messages of a person on the suppression list, dropped


class InvalidMessageError(Exception):
    """A message that cannot be stored as it is; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _nul_in(encoded: bytes) -> bool:
    return b"\\u0000" in encoded and _ESCAPED_NUL.search(encoded) is not None


def _nul_error() -> InvalidMessageError:
    return InvalidMessageError("invalid_characters", "Strings may not contain NUL characters.")


def _encoded(value: object) -> bytes:
    """`value` as compact JSON, or InvalidMessageError when it cannot be stored as JSON.

    The standard library takes what orjson cannot write but is still JSON: integers beyond 64
    bits and nesting deeper than orjson's limit. Lone surrogates stay invalid.
    """
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError):
        raise InvalidMessageError(
            "invalid_message", "The message holds values that are not valid JSON."
        ) from None


def timestamp_parse(value: object, field: str) -> datetime | None:
    """An ISO-8601 time as an aware datetime (UTC when the zone is missing); None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidMessageError(
            "invalid_timestamp", f"{field} must be an ISO-8601 date and time."
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessageError(
            "invalid_timestamp", f"{field} is not an ISO-8601 date and time."
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    offset = parsed.utcoffset()
    if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
        raise InvalidMessageError(
            "invalid_timestamp", f"{field} has a time zone offset of 16 hours or more."
        )
    try:
        # In UTC, where it is stored: an offset may carry a time past year 9999 or before year 1.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidMessageError("invalid_timestamp", f"{field} is out of range.") from None


def _identifier(message: dict, field: str) -> str:
    value = message.get(field)
    if value is None:
        return ""
    if (
        type(value) is str
    ):  # the common case, checked first: this runs for every field of every event
        value = value.strip()
    elif not is_number(value):
        # SDKs send ids as strings, some as numbers; booleans and containers are not ids.
        raise InvalidMessageError(f"invalid_{_snake(field)}", f"{field} must be a string.")
    else:
        value = str(value)
    if len(value) > MAX_LENGTHS[field]:
        raise InvalidMessageError(
            f"invalid_{_snake(field)}",
            f"{field} is longer than {MAX_LENGTHS[field]} characters.",
        )
    return value


def _text(message: dict, field: str) -> str:
    value = message.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidMessageError(f"invalid_{field}", f"{field} must be a string.")
    if len(value) > MAX_LENGTHS[field]:
        raise InvalidMessageError(
            f"invalid_{field}", f"{field} is longer than {MAX_LENGTHS[field]} characters."
        )
    return value


def _object(message: dict, field: str) -> dict:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessageError(f"invalid_{field}", f"{field} must be a JSON object.")
    if len(value) > MAX_PROPERTIES and field in ("traits", "properties"):
        raise InvalidMessageError(
            f"too_many_{field}", f"{field} has more than {MAX_PROPERTIES} entries."
        )
    return value


def _snake(field: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", field).lower()


def _external_ids_check(context: dict) -> None:
    external_ids = context.get("externalIds")
    if external_ids is None:
        return
    if not isinstance(external_ids, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("id"), str | int)
        and not isinstance(item.get("id"), bool)
        and str(item["id"]).strip()
        and isinstance(item.get("type"), str)
        and item["type"].strip()
        for item in external_ids
    ):
        raise InvalidMessageError(
            "invalid_external_ids",
            'context.externalIds must be a list of {"id", "type", "collection", "encoding"}.',
        )


def message_row(
    message: object,
    *,
    batch_context: dict | None,
    batch_integrations: dict | None,
    sent_at: datetime | None,
    received_at: datetime,
    batch_bytes: int = 0,
) -> tuple:
    """One raw message as a row for the event store, or InvalidMessageError saying why not.

    The batch's context and integrations must have passed `batch_fields_check`, which gives
    `batch_bytes`: what they add to each message's size.
    """
    if not isinstance(message, dict):
        raise InvalidMessageError("invalid_message", "A message must be a JSON object.")
    encoded = _encoded(message)
    if len(encoded) + batch_bytes > MAX_MESSAGE_BYTES:
        raise InvalidMessageError(
            "message_too_large",
            f"A message may be at most {MAX_MESSAGE_BYTES} bytes"
            + (", with the batch's context and integrations." if batch_bytes else "."),
        )
    if _nul_in(encoded):
        raise _nul_error()

    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise InvalidMessageError(
            "invalid_type", f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}."
        )
    user_id = _identifier(message, "userId")
    anonymous_id = _identifier(message, "anonymousId")
    previous_id = _identifier(message, "previousId")
    group_id = _identifier(message, "groupId")
    if kind == "alias":
        if not (previous_id and user_id):
            raise InvalidMessageError("missing_previous_id", "alias needs previousId and userId.")
    elif not (user_id or anonymous_id):
        raise InvalidMessageError("no_user_anon_id", "userId or anonymousId is required.")
    event = _text(message, "event")
    if kind == "track" and not event:
        raise InvalidMessageError("missing_event", "track needs an event name.")
    if kind == "group" and not group_id:
        raise InvalidMessageError("missing_group_id", "group needs a groupId.")
    name = _text(message, "name")

    traits = _object(message, "traits")
    properties = _object(message, "properties")
    context = _object(message, "context")
    integrations = _object(message, "integrations")
    if batch_context:
        context = {**batch_context, **context}
    if batch_integrations:
        integrations = {**batch_integrations, **integrations}
    _external_ids_check(context)
    category = message.get("category")
    if kind in ("page", "screen") and category is not None and "category" not in properties:
        # The spec's page category has no column of its own; Segment keeps it in properties.
        properties = {**properties, "category": category}
    if kind == "identify" and not traits and isinstance(context.get("traits"), dict):
        # RudderStack's SDKs send identify traits in context.traits only.
        traits = context["traits"]

    # Blank (or only spaces) counts as absent: otherwise every blank id would be one message.
    message_id = _identifier(message, "messageId") or str(uuid.uuid4())

    original = timestamp_parse(message.get("timestamp"), "timestamp")
    message_sent_at = timestamp_parse(message.get("sentAt"), "sentAt") or sent_at
    try:
        if original is None:
            corrected = received_at
        elif message_sent_at is None:
            corrected = original
        else:
            # Segment's rule: trust the client's clock only for the time between event and send.
            corrected = received_at - (message_sent_at - original)
    except OverflowError:
        raise InvalidMessageError("invalid_timestamp", "timestamp is out of range.") from None

    return (
        message_id,
        kind,
        event,
        name,
        user_id,
        anonymous_id,
        group_id,
        previous_id,
        traits,
        properties,
        context,
        integrations,
        corrected,
        original,
        message_sent_at,
    )


def payload_dump(value: object) -> str:
    """JSON text of anything a client sent, safe for any text column (kept for people to read)."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=True, default=repr)


def batch_fields_check(batch_context: object, batch_integrations: object) -> int:
    """What the batch's context and integrations add to each message's size, in bytes.

    InvalidMessageError when they cannot go into every message: not objects, or holding what
    no message may hold.
    """
    if batch_context is not None and not isinstance(batch_context, dict):
        raise InvalidMessageError("invalid_context", "The batch context must be a JSON object.")
    if batch_integrations is not None and not isinstance(batch_integrations, dict):
        raise InvalidMessageError(
            "invalid_integrations", "The batch integrations must be an object."
        )
    if not (batch_context or batch_integrations):
        return 0
    try:
        encoded = _encoded([batch_context or {}, batch_integrations or {}])
    except InvalidMessageError:
        raise InvalidMessageError("invalid_context", "The batch fields are not JSON.") from None
    if _nul_in(encoded):
        raise _nul_error()
    return len(encoded)


def _batch_problem(
    batch_context: object, batch_integrations: object, sent_at: object
) -> tuple[InvalidMessageError | None, int, datetime | None]:
    """What is wrong with the batch-level fields (it applies to every message), their size in
    each message, and sentAt."""
    try:
        batch_bytes = batch_fields_check(batch_context, batch_integrations)
        return None, batch_bytes, timestamp_parse(sent_at, "sentAt")
    except InvalidMessageError as problem:
        return problem, 0, None


def _sent_at_text(sent_at: object) -> str:
    """sentAt as sent, for the quarantine; JSON-escaped unless it is text any database keeps."""
    if sent_at is None:
        return ""
    if isinstance(sent_at, str) and storable_text(sent_at):
        return sent_at[:100]
    return payload_dump(sent_at)[:100]


def resolve_task_queue() -> None:
    # Imported here: identity resolution lives in profiles and is loaded only when needed.
    from profiles.resolution_queue import resolution_request

    resolution_request()


def tracking_messages_ingest(
    *,
    source: Source,
    messages: list,
    batch_context: dict | None = None,
    batch_integrations: dict | None = None,
    sent_at: str | None = None,
    received_at: datetime | None = None,
) -> IngestResult:
    """Store the valid messages of one request in one round of bulk inserts; quarantine the rest.

    Queues one identity-resolution task after commit when new events were stored.
    """
    received_at = received_at or timezone.now()
    batch_error, batch_bytes, batch_sent_at = _batch_problem(
        batch_context, batch_integrations, sent_at
    )
    rows: list[tuple] = []
    rejected: list[dict] = []
    quarantined: list[QuarantinedMessage] = []
    for index, message in enumerate(messages):
        try:
            if batch_error is not None:
                raise batch_error
            rows.append(
                message_row(
                    message,
                    batch_context=batch_context,
                    batch_integrations=batch_integrations,
                    sent_at=batch_sent_at,
                    received_at=received_at,
                    batch_bytes=batch_bytes,
                )
            )
        except InvalidMessageError as problem:
            rejected.append({"index": index, "code": problem.code, "message": problem.message})
            quarantined.append(
                QuarantinedMessage(
                    source=source,
                    index=index,
                    code=problem.code,
                    reason=problem.message,
                    payload=payload_dump(message),
                    batch_context=payload_dump(batch_context),
                    batch_integrations=payload_dump(batch_integrations),
                    sent_at=_sent_at_text(sent_at),
                    received_at=received_at,
                )
            )
    suppressed = suppressed_drop(source, rows, received_at)
    if suppressed:
        rows = [row for index, row in enumerate(rows) if index not in suppressed]
    if quarantined:
        with transaction.atomic():
            result = events_store(source_id=source.pk, rows=rows, received_at=received_at)
            QuarantinedMessage.objects.bulk_create(quarantined)
    else:
        # The common case: the events alone, written by a statement that is its own transaction.
        result = events_store(source_id=source.pk, rows=rows, received_at=received_at)
    if result.stored:
        transaction.on_commit(resolve_task_queue)
    return IngestResult(
        accepted=result.stored,
        duplicates=result.duplicates,
        rejected=rejected,
        suppressed=len(suppressed),
    )


def suppressed_drop(source: Source, rows: list[tuple], received_at: datetime) -> set[int]:
    """Indexes of the rows of an erased person (on the suppression list): one query for the
    batch. They are answered as accepted, as Segment does, and counted for the officer."""
    if not rows:
        return set()
    suppressed = set(rows_suppressed(rows))
    if suppressed:
        suppressed_messages_dropped.send(
            sender=IngestResult,
            source_id=source.pk,
            count=len(suppressed),
            day=received_at.date(),
        )
    return suppressed
