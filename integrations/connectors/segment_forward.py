"""Event forwarding to any endpoint that speaks the Segment Tracking API (`POST /v1/batch`).

Another CDP, a warehouse loader, Segment itself or a second deployment of this product: events
are sent in `/v1/batch` requests with the write key as the HTTP Basic user name, at most 2,500
messages and under 475,000 bytes a request (Segment's limit is 500 KB; the margin is the one its
own library keeps). A message over 32 KB is refused alone, as the receiver would refuse it.

Only the chosen message types and event names are forwarded (`forward` returns the others as
neither sent nor failed). Each message keeps its `messageId`, so a retried batch is stored once
by a receiver that de-duplicates on it, as Segment and this product do. Messages go out with
their own `timestamp` and without `sentAt`/`receivedAt`: the receiver keeps our already-corrected
time instead of correcting it again for our sending delay.

Audience changes (`deliver`) go out the same way, as `Audience Entered` / `Audience Exited`
track events.
"""

from typing import ClassVar
from urllib.parse import urlsplit

import orjson

from integrations.connectors import audience_events
from integrations.connectors.base import (
    ConfigField,
    ConnectionCheck,
    DeliveryBatch,
    DeliveryResult,
    DestinationConnector,
    RecordFailure,
    TerminalError,
    TransientError,
)
from integrations.connectors.http import trimmed
from integrations.connectors.http_delivery import DeliveryClient
from integrations.connectors.options import int_option, lines_option, option
from integrations.connectors.registry import register

MAX_REQUEST_BYTES = 475_000
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_MESSAGES = 2500
MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
# Set by the receiver on arrival, or by the first sender; never forwarded.
RECEIVER_FIELDS = ("sentAt", "receivedAt", "originalTimestamp", "writeKey")
ENVELOPE_BYTES = len(b'{"batch":[]}')


def _encoded(message: dict) -> bytes:
    return orjson.dumps(message, default=str, option=orjson.OPT_NON_STR_KEYS)


@register
class SegmentForwardDestination(DestinationConnector):
    key: ClassVar[str] = "segment_forward"
    label: ClassVar[str] = "Segment-compatible endpoint"
    description: ClassVar[str] = (
        "Forwards events to anything that speaks the Segment Tracking API (/v1/batch): Segment, "
        "RudderStack, another CDP, a warehouse loader."
    )
    max_batch: ClassVar[int] = MAX_BATCH_MESSAGES
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "base_url",
            "Endpoint",
            kind="url",
            help_text="Without /v1, e.g. https://api.segment.io or https://events.eu1.segmentapis.com",
        ),
        ConfigField("write_key", "Write key", kind="secret"),
        ConfigField(
            "message_types",
            "Message types",
            required=False,
            default="",
            help_text="Comma-separated, e.g. track, identify. Blank: all types.",
        ),
        ConfigField(
            "event_names",
            "Event names",
            kind="textarea",
            required=False,
            default="",
            help_text="One per line: only these track events (and page/screen names) go. "
            "Blank: all.",
        ),
        ConfigField(
            "timeout_seconds", "Timeout (seconds)", kind="integer", required=False, default=30
        ),
    )

    def __init__(self, config: dict, secrets: dict):
        super().__init__(config, secrets)
        self._timeout = int_option(self.fields, config, "timeout_seconds", low=1, high=300)
        types = [t.lower() for t in lines_option(self.fields, config, "message_types")]
        unknown = sorted(set(types) - set(MESSAGE_TYPES))
        if unknown:
            raise TerminalError(
                f"Unknown message type(s): {', '.join(unknown)}. Use {', '.join(MESSAGE_TYPES)}."
            )
        self.types = frozenset(types)
        self.names = frozenset(lines_option(self.fields, config, "event_names"))
        self._client = None

    def _url(self) -> str:
        base_url = str(option(self.fields, self.config, "base_url") or "").strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TerminalError("The endpoint must start with https:// (or http://).")
        return f"{base_url}/v1/batch"

    def _http(self) -> DeliveryClient:
        if self._client is None:
            write_key = (self.secrets.get("write_key") or "").strip()
            if not write_key:
                raise TerminalError("The write key is missing: set it on the destination.")
            self._client = DeliveryClient(
                service="the receiving endpoint",
                credential="write key",
                timeout=self._timeout,
                auth=(write_key, ""),
                secrets=(write_key,),
            )
        return self._client

    # Choosing ----------------------------------------------------------------------------------

    def wanted(self, message: dict) -> bool:
        """Whether the filters let `message` through."""
        kind = message.get("type")
        if self.types and kind not in self.types:
            return False
        if self.names and kind in ("track", "page", "screen"):
            return (message.get("event") if kind == "track" else message.get("name")) in self.names
        return True

    # Sending -----------------------------------------------------------------------------------

    def _post(self, encoded: list[bytes]) -> dict:
        body = b'{"batch":[' + b",".join(encoded) + b"]}"
        http = self._http()
        response = http.request(
            "POST", self._url(), content=body, headers={"Content-Type": "application/json"}
        )
        try:
            answer = response.json()
        except ValueError:
            return {}  # Segment's answer body is not specified: the status code is the answer
        return answer if isinstance(answer, dict) else {}

    def _send(self, messages: list[dict], failures: list[RecordFailure], ids: list[int]) -> None:
        """Send `messages` (named by `ids` in failures) in as few requests as the limits allow."""
        pending: list[tuple[int, bytes]] = []
        size = ENVELOPE_BYTES

        def flush():
            if not pending:
                return
            answer = self._post([encoded for _, encoded in pending])
            # This product's tracking API lists the messages it refused, by index in the batch.
            for refused in answer.get("rejected") or []:
                if isinstance(refused, dict) and isinstance(refused.get("index"), int):
                    index = refused["index"]
                    if 0 <= index < len(pending):
                        reason = trimmed(refused.get("message") or "refused by the receiver")
                        failures.append(RecordFailure(pending[index][0], reason, False))
            pending.clear()

        for message_id, message in zip(ids, messages, strict=True):
            outgoing = {k: v for k, v in message.items() if k not in RECEIVER_FIELDS}
            encoded = _encoded(outgoing)
            if len(encoded) > MAX_MESSAGE_BYTES:
                failures.append(
                    RecordFailure(
                        message_id,
                        f"The message is {len(encoded):,} bytes; a receiver takes at most 32 KB.",
                        False,
                    )
                )
                continue
            if pending and (
                size + len(encoded) + 1 > MAX_REQUEST_BYTES or len(pending) >= MAX_BATCH_MESSAGES
            ):
                flush()
                size = ENVELOPE_BYTES
            pending.append((message_id, encoded))
            size += len(encoded) + 1
        flush()

    def forward(self, messages: list[dict]) -> DeliveryResult:
        """Send the wanted `messages`; failures name a message by its index in `messages`."""
        failures: list[RecordFailure] = []
        chosen = [(i, m) for i, m in enumerate(messages) if self.wanted(m)]
        for index, message in chosen:
            if not message.get("messageId"):
                failures.append(
                    RecordFailure(index, "The message has no messageId to de-duplicate on.", False)
                )
        chosen = [(i, m) for i, m in chosen if m.get("messageId")]
        self._send([m for _, m in chosen], failures, [i for i, _ in chosen])
        return DeliveryResult(failures=failures)

    def deliver(self, batch: DeliveryBatch) -> DeliveryResult:
        records = batch.entered + batch.exited
        events = audience_events.audience_events(batch)
        failures: list[RecordFailure] = []
        self._send(events, failures, [record.profile_id for record in records])
        return DeliveryResult(failures=failures)

    def check_connection(self) -> ConnectionCheck:
        """An empty batch: accepted by a Segment-compatible endpoint, and stores nothing."""
        try:
            self._post([])
        except (TransientError, TerminalError) as error:
            return ConnectionCheck(False, error.message)
        host = urlsplit(self._url()).netloc
        return ConnectionCheck(True, f"Connected: {host} accepted the write key.")
