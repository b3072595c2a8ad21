"""Incoming webhooks: the URL of a source, its signing secret, and receiving one delivery.

A delivery is checked in this order, cheapest refusal first: the source behind the URL, the size,
the signature (over the raw bytes, before any parsing), the JSON, the mapping. A valid one is
stored through the records store before the sender gets its 2xx, with a record id from the
configured id field (or the body's hash), so a retried delivery is stored once.
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.db import transaction

from cdp_site.errors import DomainError
from cdp_site.params import id_in_range
from integrations.connectors.base import SourceRecord
from integrations.connectors.webhook import signing_secret_generate
from integrations.models import Source
from integrations.secrets import secrets_decrypt, secrets_encrypt
from integrations.sync.records import source_records_store

from .mapping import PayloadError, WebhookMapping, body_parse
from .signature import SignatureError, signature_verify

WEBHOOK_KIND = "webhook"
MAX_BODY_BYTES = 256 * 1024


class WebhookRefusedError(Exception):
    """A delivery refused with an HTTP status, a stable code and a message for the sender."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def webhook_token(source: Source) -> str:
    """The unguessable part of a webhook source's URL: a one-way hash of its write key, so the
    URL gives nothing that the tracking API would take."""
    return hashlib.sha256(f"cdp-webhook\x1f{source.write_key}".encode()).hexdigest()[:40]


def webhook_secret_replace(*, source: Source) -> str:
    """A new signing secret for the source (the old one stops working); returned once, to show."""
    if source.kind != WEBHOOK_KIND:
        raise WebhookRefusedError(400, "not_webhook", "This source is not an incoming webhook.")
    secret = signing_secret_generate()
    with transaction.atomic():
        token = (
            Source.objects.select_for_update()
            .values_list("secrets_encrypted", flat=True)
            .get(pk=source.pk)
        )
        values = {**secrets_decrypt(token), "signing_secret": secret}
        source.secrets_encrypted = secrets_encrypt(values)
        Source.objects.filter(pk=source.pk).update(secrets_encrypted=source.secrets_encrypted)
    return secret


def webhook_has_secret(source: Source) -> bool:
    return bool(secrets_decrypt(source.secrets_encrypted).get("signing_secret"))


@dataclass(frozen=True)
class Delivery:
    stored: int
    unchanged: int
    record_id: str


def webhook_source_get(source_id: int, token: str) -> Source:
    """The webhook source a URL names; `WebhookRefusedError` 404 for any other id or token."""
    source = (
        Source.objects.filter(pk=source_id, kind=WEBHOOK_KIND).first()
        if id_in_range(source_id)
        else None
    )
    if source is None or not hmac.compare_digest(webhook_token(source), token):
        raise WebhookRefusedError(404, "unknown_webhook", "There is no webhook at this address.")
    return source


def webhook_receive(*, source: Source, body: bytes, signature: str | None) -> Delivery:
    """Check, map and store one delivery; `WebhookRefusedError` says why not."""
    if not source.enabled:
        raise WebhookRefusedError(403, "source_disabled", "This webhook's source is disabled.")
    try:
        secret = secrets_decrypt(source.secrets_encrypted).get("signing_secret")
    except DomainError as problem:
        # The server's keys changed, not the sender's fault: worth sending again later.
        raise WebhookRefusedError(503, "secret_unreadable", problem.message) from None
    if not secret:
        raise WebhookRefusedError(
            401, "no_signing_secret", "This webhook has no signing secret yet: nothing is accepted."
        )
    try:
        signature_verify(secret=secret, header=signature, body=body)
    except SignatureError as problem:
        raise WebhookRefusedError(401, problem.code, problem.message) from None
    try:
        payload = body_parse(body)
        record_id, version, message = WebhookMapping.from_config(source.config or {}).record(
            payload, body
        )
    except PayloadError as problem:
        raise WebhookRefusedError(400, "invalid_payload", problem.message) from None
    with transaction.atomic():
        result = source_records_store(source, [SourceRecord(record_id, version, message)])
    if result.errors:
        raise WebhookRefusedError(400, "invalid_message", result.errors[0].reason)
    return Delivery(stored=result.stored, unchanged=result.unchanged, record_id=record_id)
