"""Webhook destination: membership changes POSTed as signed batches of Segment-spec events.

Each delivery batch is one request to the configured URL:

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <batch_id>          (the same on every retry of the batch)
    X-CDP-Timestamp / X-CDP-Signature    (see `hmac_signing`)

    {"batch_id": "...", "audience": {"key": "cdp-sync-12", "name": "VIPs"},
     "sentAt": "...", "batch": [<Audience Entered / Audience Exited track events>]}

The body has the shape of the Segment `/v1/batch` call, so a receiver that speaks the tracking API
takes it as it is. Any 2xx answer means the whole batch was taken.
"""

import time
from typing import ClassVar
from urllib.parse import urlsplit

import orjson
from django.utils import timezone

from integrations.connectors import audience_events
from integrations.connectors.base import (
    ConfigField,
    ConnectionCheck,
    DeliveryBatch,
    DeliveryResult,
    DestinationConnector,
    TerminalError,
    TransientError,
)
from integrations.connectors.hmac_signing import signature_headers
from integrations.connectors.http_delivery import DeliveryClient
from integrations.connectors.options import int_option, option
from integrations.connectors.registry import register

CHECK_BATCH_PREFIX = "connection-check-"


@register
class WebhookDestination(DestinationConnector):
    key: ClassVar[str] = "webhook"
    label: ClassVar[str] = "Webhook"
    description: ClassVar[str] = (
        "Sends people entering and leaving an audience to your own endpoint as signed JSON "
        "batches of Audience Entered / Audience Exited events."
    )
    max_batch: ClassVar[int] = 500
    can_delete: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("url", "Endpoint URL", kind="url", help_text="https://... that takes POSTs."),
        ConfigField(
            "signing_secret",
            "Signing secret",
            kind="secret",
            help_text="Shared with the receiver, which checks the X-CDP-Signature header.",
        ),
        ConfigField(
            "previous_signing_secret",
            "Previous signing secret",
            kind="secret",
            required=False,
            help_text="While the receiver moves to a new secret, requests are signed with both.",
        ),
        ConfigField(
            "batch_size",
            "Records per request",
            kind="integer",
            required=False,
            default=500,
            help_text="At most 10,000.",
        ),
        ConfigField(
            "timeout_seconds",
            "Timeout (seconds)",
            kind="integer",
            required=False,
            default=30,
        ),
    )
    # The webhook's own secret kinds, so a receiver's refusals name the right thing.
    credential: ClassVar[str] = "signing secret"
    service: ClassVar[str] = "the webhook receiver"

    def __init__(self, config: dict, secrets: dict):
        super().__init__(config, secrets)
        self.max_batch = int_option(self.fields, config, "batch_size", low=1, high=10_000)
        self._timeout = int_option(self.fields, config, "timeout_seconds", low=1, high=300)
        self._client = None

    # Settings ------------------------------------------------------------------------------

    def _url(self) -> str:
        url = str(option(self.fields, self.config, "url") or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TerminalError("The endpoint URL must start with https:// (or http://).")
        return url

    def _signing_secrets(self) -> list[str]:
        current = self.secrets.get("signing_secret") or ""
        if not current:
            raise TerminalError("The signing secret is missing: set one on the destination.")
        previous = self.secrets.get("previous_signing_secret") or ""
        return [current, previous] if previous and previous != current else [current]

    def _http(self) -> DeliveryClient:
        if self._client is None:
            self._client = DeliveryClient(
                service=self.service,
                credential=self.credential,
                timeout=self._timeout,
                secrets=tuple(self._signing_secrets()),
            )
        return self._client

    # Sending ---------------------------------------------------------------------------------

    def _post(self, payload: dict, idempotency_key: str):
        # orjson: the body is most of a delivery's cost, and this is ~5x faster than json.
        body = orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            **signature_headers(self._signing_secrets(), body, int(time.time())),
        }
        return self._http().request("POST", self._url(), content=body, headers=headers)

    def _payload(self, batch_id: str, audience: dict | None, events: list[dict]) -> dict:
        return {
            "batch_id": batch_id,
            "audience": audience,
            "sentAt": timezone.now().isoformat(),
            "batch": events,
        }

    def deliver(self, batch: DeliveryBatch) -> DeliveryResult:
        events = audience_events.audience_events(batch)
        if not events:
            return DeliveryResult()
        audience = {"key": batch.audience_key, "name": batch.audience_name}
        self._post(self._payload(batch.batch_id, audience, events), batch.batch_id)
        return DeliveryResult()

    def check_connection(self) -> ConnectionCheck:
        batch_id = f"{CHECK_BATCH_PREFIX}{int(time.time())}"
        try:
            response = self._post(self._payload(batch_id, None, []), batch_id)
        except (TransientError, TerminalError) as error:
            return ConnectionCheck(False, error.message)
        host = urlsplit(self._url()).netloc
        return ConnectionCheck(
            True,
            f"Connected: {host} accepted a signed test request (HTTP {response.status_code}).",
        )

    def subject_delete(self, identifiers: dict) -> ConnectionCheck:
        key = audience_events.identifiers_key(identifiers)
        event = audience_events.subject_deleted_event(identifiers, request_key=key)
        batch_id = f"subject-delete-{key}"
        try:
            response = self._post(self._payload(batch_id, None, [event]), batch_id)
        except TerminalError as error:
            return ConnectionCheck(False, error.message)
        return ConnectionCheck(
            True, f"The receiver acknowledged the deletion request (HTTP {response.status_code})."
        )
