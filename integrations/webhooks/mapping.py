"""The mapping of a webhook's JSON body to a Segment-spec message, by dotted paths.

`data.customer.email` reads `body["data"]["customer"]["email"]`; a number in a path indexes a
list (`items.0.sku`). The mapping is the webhook source's configuration: the message type, the
event name (fixed, or from a path), paths to the identifiers, to the traits or properties object
(the whole body when none is given), to the timestamp, and to the id that makes a delivery
unique (the body's hash when none is given).
"""

import hashlib
from dataclasses import dataclass

import orjson

from integrations.tracking.ingest import MAX_LENGTHS, InvalidMessageError, timestamp_parse

_MISSING = object()


class PayloadError(Exception):
    """The body cannot become a message with this mapping; `message` is for the sender."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def path_get(body: object, path: str) -> object:
    """The value at a dotted path, or `_MISSING`."""
    value = body
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _scalar(body: object, path: str, label: str, max_length: int) -> str:
    if not path:
        return ""
    value = path_get(body, path)
    if value is _MISSING or value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{path} ({label}) must be a string or a number.")
    text = str(value).strip()
    if len(text) > max_length:
        raise PayloadError(f"{path} ({label}) is longer than {max_length} characters.")
    return text


def _object(body: object, path: str, label: str) -> dict:
    value = body if not path else path_get(body, path)
    if value is _MISSING or value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{path or 'The body'} ({label}) must be a JSON object.")
    return value


@dataclass(frozen=True)
class WebhookMapping:
    type: str = "track"
    event_name: str = ""
    event_name_path: str = ""
    user_id_path: str = ""
    anonymous_id_path: str = ""
    email_path: str = ""
    phone_path: str = ""
    traits_path: str = ""
    properties_path: str = ""
    timestamp_path: str = ""
    id_path: str = ""

    @classmethod
    def from_config(cls, config: dict) -> "WebhookMapping":
        names = cls.__dataclass_fields__
        return cls(**{k: str(v or "").strip() for k, v in config.items() if k in names})

    def record(self, body: object, raw: bytes) -> tuple[str, str, dict]:
        """`(record id, version, message)` of one delivery, or `PayloadError`."""
        if not isinstance(body, dict):
            raise PayloadError("The body must be a JSON object.")
        user_id = _scalar(body, self.user_id_path, "user id", MAX_LENGTHS["userId"])
        anonymous_id = _scalar(
            body, self.anonymous_id_path, "anonymous id", MAX_LENGTHS["anonymousId"]
        )
        email = _scalar(body, self.email_path, "e-mail", 320)
        phone = _scalar(body, self.phone_path, "phone", 64)
        if not (user_id or anonymous_id or email or phone):
            paths = [
                p
                for p in (
                    self.user_id_path,
                    self.anonymous_id_path,
                    self.email_path,
                    self.phone_path,
                )
                if p
            ]
            raise PayloadError(
                "No identifier in the body"
                + (f" (looked at {', '.join(paths)})." if paths else ": the source maps none.")
            )
        traits = dict(_object(body, self.traits_path, "traits")) if self.traits_path else {}
        if email:
            traits["email"] = email
        if phone:
            traits["phone"] = phone
        message: dict = {"type": self.type}
        if user_id:
            message["userId"] = user_id
        if anonymous_id:
            message["anonymousId"] = anonymous_id
        if not (user_id or anonymous_id):
            kind, value = ("email", email) if email else ("phone", phone)
            digest = hashlib.blake2b(value.lower().encode(), digest_size=12).hexdigest()
            message["anonymousId"] = f"{kind}-{digest}"
        if self.type == "identify":
            message["traits"] = traits
        else:
            event = self.event_name
            if self.event_name_path:
                event = _scalar(body, self.event_name_path, "event name", MAX_LENGTHS["event"])
                event = event or self.event_name
            if not event:
                raise PayloadError(f"No event name at {self.event_name_path or 'any path'}.")
            message["event"] = event
            message["properties"] = _object(body, self.properties_path, "properties")
            if traits:
                message["context"] = {"traits": traits}
        timestamp = _scalar(body, self.timestamp_path, "timestamp", 64)
        if timestamp:
            try:
                timestamp_parse(timestamp, self.timestamp_path)
            except InvalidMessageError as problem:
                raise PayloadError(problem.message) from None
            message["timestamp"] = timestamp
        digest = hashlib.sha256(raw).hexdigest()
        record_id = _scalar(body, self.id_path, "id", 200) if self.id_path else ""
        if not record_id:
            record_id = f"body-{digest[:40]}"
        return record_id, digest[:40], message


def body_parse(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PayloadError("The body is not valid JSON.") from None
