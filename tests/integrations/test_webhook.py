"""The incoming webhook: signed deliveries stored once, every refusal a clear JSON error, and the
signing secret shown once."""

import json
import time

import pytest
from django.urls import reverse

from integrations.models import Source
from integrations.secrets import secrets_decrypt
from integrations.sources import source_connector_create
from integrations.webhooks.services import (
    MAX_BODY_BYTES,
    webhook_secret_replace,
    webhook_token,
)
from integrations.webhooks.signature import signature_header
from profiles.models import Event

pytestmark = pytest.mark.django_db

MAPPING = {
    "type": "track",
    "event_name": "Form Submitted",
    "event_name_path": "type",
    "user_id_path": "data.customer.id",
    "email_path": "data.customer.email",
    "properties_path": "data.form",
    "timestamp_path": "created_at",
    "id_path": "id",
}
DELIVERY = {
    "id": "evt_1",
    "type": "Demo Requested",
    "created_at": "2026-11-28T09:30:00Z",
    "data": {"customer": {"id": 42, "email": "ann@example.com"}, "form": {"seats": 12}},
}


@pytest.fixture
def hook(integration_admin):
    source = source_connector_create(
        name="Forms", kind="webhook", values=MAPPING, created_by=integration_admin
    )
    secret = webhook_secret_replace(source=source)
    return source, secret


def _url(source, token=None):
    return reverse("integrations:webhook_receive", args=[source.pk, token or webhook_token(source)])


def _post(client, source, body: bytes, header: str | None, **extra):
    headers = {"HTTP_X_CDP_SIGNATURE": header} if header is not None else {}
    return client.post(_url(source), data=body, content_type="application/json", **headers, **extra)


def test_a_signed_delivery_is_stored_as_its_mapped_event(client, hook):
    source, secret = hook
    body = json.dumps(DELIVERY).encode()
    response = _post(client, source, body, signature_header(secret, body))
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "unchanged": 0, "id": "evt_1"}
    event = Event.objects.get(source_id=source.pk)
    assert (event.type, event.event, event.user_id) == ("track", "Demo Requested", "42")
    assert event.properties == {"seats": 12}
    assert event.context == {"traits": {"email": "ann@example.com"}}
    assert event.timestamp.isoformat() == "2026-11-28T09:30:00+00:00"


def test_a_retried_delivery_is_stored_once(client, hook):
    source, secret = hook
    body = json.dumps(DELIVERY).encode()
    _post(client, source, body, signature_header(secret, body))
    response = _post(client, source, body, signature_header(secret, body))
    assert response.json() == {"stored": 0, "unchanged": 1, "id": "evt_1"}
    assert Event.objects.filter(source_id=source.pk).count() == 1


def test_without_an_id_field_the_body_hash_identifies_a_delivery(client, integration_admin):
    source = source_connector_create(
        name="Plain", kind="webhook", values={"type": "identify", "email_path": "email"}
    )
    secret = webhook_secret_replace(source=source)
    body = b'{"email": "bob@example.com", "plan": "pro"}'
    first = _post(client, source, body, signature_header(secret, body)).json()
    second = _post(client, source, body, signature_header(secret, body)).json()
    assert first["id"] == second["id"]
    assert first["id"].startswith("body-")
    assert (first["stored"], second["unchanged"]) == (1, 1)
    assert Event.objects.get(source_id=source.pk).traits == {"email": "bob@example.com"}


@pytest.mark.parametrize(
    ("make_header", "status", "code"),
    [
        (lambda secret, body: None, 401, "missing_signature"),
        (lambda secret, body: "sha256=abc", 401, "invalid_signature"),
        (lambda secret, body: signature_header("whsec_other", body), 401, "invalid_signature"),
        (lambda secret, body: signature_header(secret, body + b" "), 401, "invalid_signature"),
        (
            lambda secret, body: signature_header(secret, body, int(time.time()) - 301),
            401,
            "stale_signature",
        ),
        (
            lambda secret, body: signature_header(secret, body, int(time.time()) + 301),
            401,
            "stale_signature",
        ),
    ],
)
def test_a_bad_missing_or_replayed_signature_is_refused(client, hook, make_header, status, code):
    source, secret = hook
    body = json.dumps(DELIVERY).encode()
    response = _post(client, source, body, make_header(secret, body))
    assert response.status_code == status
    assert response.json()["code"] == code
    assert not Event.objects.filter(source_id=source.pk).exists()


def test_an_oversized_body_is_refused_before_its_signature(client, hook):
    source, secret = hook
    body = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = _post(client, source, body, signature_header(secret, body))
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The body is not valid JSON."),
        (b"[1, 2]", "The body must be a JSON object."),
        (
            b'{"type": "x"}',
            "No identifier in the body (looked at data.customer.id, data.customer.email).",
        ),
        (
            b'{"data": {"customer": {"id": [1]}}}',
            "data.customer.id (user id) must be a string or a number.",
        ),
        (
            b'{"data": {"customer": {"id": 1}}, "created_at": "soon"}',
            "created_at is not an ISO-8601",
        ),
    ],
)
def test_a_body_the_mapping_cannot_use_is_a_clear_400(client, hook, body, message):
    source, secret = hook
    response = _post(client, source, body, signature_header(secret, body))
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_unknown_address_disabled_source_and_missing_secret(client, hook, integration_admin):
    source, secret = hook
    body = json.dumps(DELIVERY).encode()
    wrong = client.post(_url(source, token="0" * 40), data=body, content_type="application/json")
    assert (wrong.status_code, wrong.json()["code"]) == (404, "unknown_webhook")
    assert (
        client.post(reverse("integrations:webhook_receive", args=[10**30, "x"])).status_code == 404
    )
    assert client.get(_url(source)).status_code == 405

    Source.objects.filter(pk=source.pk).update(enabled=False)
    disabled = _post(client, source, body, signature_header(secret, body))
    assert (disabled.status_code, disabled.json()["code"]) == (403, "source_disabled")

    bare = source_connector_create(name="No secret", kind="webhook", values=MAPPING)
    response = _post(client, bare, body, signature_header(secret, body))
    assert (response.status_code, response.json()["code"]) == (401, "no_signing_secret")


def test_the_signing_secret_is_shown_once_then_only_replaced(hook, client_for, integration_admin):
    source, _ = hook
    admin = client_for(integration_admin)
    page = admin.get(reverse("integrations:webhook_setup", args=[source.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert webhook_token(source) in text
    assert "Replace the signing secret" in text
    stored = secrets_decrypt(Source.objects.get(pk=source.pk).secrets_encrypted)["signing_secret"]
    assert stored not in text

    replaced = admin.post(reverse("integrations:webhook_secret", args=[source.pk]))
    new = secrets_decrypt(Source.objects.get(pk=source.pk).secrets_encrypted)["signing_secret"]
    assert new != stored
    assert new in replaced.content.decode()
    assert replaced["Cache-Control"] == "no-store"
    again = admin.get(reverse("integrations:webhook_setup", args=[source.pk])).content.decode()
    assert new not in again


def test_only_integration_admins_replace_a_secret(hook, client_for, marketer):
    source, _ = hook
    before = Source.objects.get(pk=source.pk).secrets_encrypted
    response = client_for(marketer).post(reverse("integrations:webhook_secret", args=[source.pk]))
    assert response.status_code == 403
    assert Source.objects.get(pk=source.pk).secrets_encrypted == before


def test_changing_the_mapping_keeps_the_signing_secret(hook):
    from integrations.sources import source_connector_update

    source, secret = hook
    source_connector_update(source=source, values={**MAPPING, "event_name": "Lead"})
    source.refresh_from_db()
    assert secrets_decrypt(source.secrets_encrypted)["signing_secret"] == secret
    assert source.config["event_name"] == "Lead"


def test_the_source_page_leads_to_the_webhook_page_and_offers_no_sync(
    hook, client_for, integration_admin
):
    source, _ = hook
    page = client_for(integration_admin).get(
        reverse("integrations:source_detail", args=[source.pk])
    )
    text = page.content.decode()
    assert reverse("integrations:webhook_setup", args=[source.pk]) in text
    assert "Sync now" not in text


def test_a_secret_the_server_cannot_read_is_a_503_not_a_500(client, hook, settings):
    source, secret = hook
    settings.CDP_SECRET_KEYS = ["bYx1eTvnS1DPqZ7qWzXv2qrm2sBq1Xkq2p0mH3sVb8E="]
    body = json.dumps(DELIVERY).encode()
    response = _post(client, source, body, signature_header(secret, body))
    assert (response.status_code, response.json()["code"]) == (503, "secret_unreadable")
