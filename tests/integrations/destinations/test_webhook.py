"""The webhook destination against a receiver that verifies signatures and keeps audiences."""

import hashlib
import hmac

import pytest

from integrations.connectors.base import TerminalError, TransientError
from integrations.connectors.hmac_signing import signature_headers, signature_verify
from integrations.connectors.registry import connector_class
from integrations.connectors.webhook_destination import WebhookDestination
from tests.integrations.destinations.records import batch, person

SECRET = "whsec-test-secret"


def _connector(receiver, secret=SECRET, **config):
    return WebhookDestination(
        {"url": f"{receiver.url}/hooks/cdp", "timeout_seconds": 2, **config},
        {"signing_secret": secret},
    )


def test_registered_as_a_destination():
    cls = connector_class("webhook", kind="destination")
    assert cls is WebhookDestination
    assert cls.kind == "destination"
    assert {f.name for f in cls.fields if f.kind == "secret"} == {
        "signing_secret",
        "previous_signing_secret",
    }


def test_entries_and_exits_arrive_signed_as_audience_events(webhook_receiver):
    connector = _connector(webhook_receiver)
    ada = person(1, "ada@example.com", "+447700900123", first_name="Ada")
    bob = person(2, "bob@example.com", first_name="Bob")
    assert connector.deliver(batch("b-1", entered=[ada, bob])).failures == []
    assert connector.deliver(batch("b-2", exited=[bob])).failures == []

    assert webhook_receiver.member_ids("cdp-sync-1") == {1}
    assert webhook_receiver.members["cdp-sync-1"][1] == {
        "first_name": "Ada",
        "email": "ada@example.com",
        "phone": "+447700900123",
    }
    first = webhook_receiver.requests[0]
    assert first.headers["idempotency-key"] == "b-1"
    assert first.headers["content-type"] == "application/json"
    payload = first.json()
    assert payload["batch_id"] == "b-1"
    assert payload["audience"] == {"key": "cdp-sync-1", "name": "Big spenders"}
    entered = payload["batch"][0]
    assert entered["type"] == "track"
    assert entered["event"] == "Audience Entered"
    assert entered["userId"] == "user-1"
    assert entered["properties"] == {
        "audience_key": "cdp-sync-1",
        "audience_name": "Big spenders",
        "cdp-sync-1": True,
    }
    assert {
        "id": "ada@example.com",
        "type": "email",
        "collection": "users",
        "encoding": "none",
    } in (entered["context"]["externalIds"])
    exited = webhook_receiver.requests[1].json()["batch"][0]
    assert exited["event"] == "Audience Exited"
    assert exited["properties"]["cdp-sync-1"] is False


def test_a_retried_batch_carries_the_same_key_and_message_ids(webhook_receiver):
    connector = _connector(webhook_receiver)
    # The receiver stores the batch, but its answer is lost: the run retries the same batch.
    webhook_receiver.fail_next("after_store:503")
    delivery = batch("b-1", entered=[person(1, "ada@example.com"), person(2, "bob@example.com")])
    with pytest.raises(TransientError):
        connector.deliver(delivery)
    connector.deliver(delivery)

    first, second = webhook_receiver.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "b-1"
    assert [e["messageId"] for e in first.json()["batch"]] == [
        e["messageId"] for e in second.json()["batch"]
    ]
    assert webhook_receiver.duplicate_batches == 1
    assert set(webhook_receiver.message_ids.values()) == {1}
    assert webhook_receiver.member_ids("cdp-sync-1") == {1, 2}


def test_a_profile_without_user_id_gets_a_stable_anonymous_id(webhook_receiver):
    record = person(7, "eve@example.com")
    record.identifiers["user_id"].clear()
    _connector(webhook_receiver).deliver(batch("b-1", entered=[record]))
    event = webhook_receiver.requests[0].json()["batch"][0]
    assert "userId" not in event
    assert event["anonymousId"] == "cdp-profile-7"


def test_the_documented_signature_is_verifiable_with_the_standard_library(webhook_receiver):
    body = b'{"batch":[]}'
    headers = signature_headers([SECRET], body, timestamp=1767225600)
    expected = hmac.new(SECRET.encode(), b"1767225600." + body, hashlib.sha256).hexdigest()
    header = f"t=1767225600,v1={expected}"
    assert headers == {"X-CDP-Signature": header}
    assert signature_verify(SECRET, body, header, now=1767225700)
    # Stale, tampered, signed with another secret, or without a timestamp: refused.
    assert not signature_verify(SECRET, body, header, now=1767226000)
    assert not signature_verify(SECRET, body + b" ", header, now=1767225600)
    assert not signature_verify("other", body, header, now=1767225600)
    assert not signature_verify(SECRET, body, f"v1={expected}", now=1767225600)


def test_during_a_rotation_both_secrets_sign(webhook_receiver):
    webhook_receiver.secret = "old-secret"
    connector = WebhookDestination(
        {"url": webhook_receiver.url},
        {"signing_secret": "new-secret", "previous_signing_secret": "old-secret"},
    )
    connector.deliver(batch("b-1", entered=[person(1, "ada@example.com")]))
    assert webhook_receiver.member_ids("cdp-sync-1") == {1}
    assert webhook_receiver.requests[0].headers["x-cdp-signature"].count("v1=") == 2


def test_a_wrong_secret_is_terminal_and_names_the_secret_without_showing_it(webhook_receiver):
    connector = _connector(webhook_receiver, secret="not-the-receivers-secret")
    with pytest.raises(TerminalError) as error:
        connector.deliver(batch("b-1", entered=[person(1, "ada@example.com")]))
    assert "signing secret" in error.value.message
    assert "401" in error.value.message
    assert "signature mismatch" in error.value.message
    assert "not-the-receivers-secret" not in error.value.message
    assert webhook_receiver.member_ids("cdp-sync-1") == set()


@pytest.mark.parametrize(
    ("mode", "retry_after", "expected_wait", "said"),
    [
        ("429", 7, 7.0, "slow down (429)"),
        ("503", None, None, "failed (503)"),
        ("500", None, None, "failed (500)"),
        ("hang", None, None, "did not answer in time"),
        ("reset", None, None, "server closed the connection"),
    ],
)
def test_transient_failures_are_retryable_and_nothing_is_stored(
    webhook_receiver, mode, retry_after, expected_wait, said
):
    connector = _connector(webhook_receiver, timeout_seconds=1)
    webhook_receiver.fail_next(mode, retry_after=retry_after)
    delivery = batch("b-1", entered=[person(1, "ada@example.com")])
    with pytest.raises(TransientError) as error:
        connector.deliver(delivery)
    assert error.value.retry_after == expected_wait
    assert said in error.value.message
    assert webhook_receiver.member_ids("cdp-sync-1") == set()
    connector.deliver(delivery)
    assert webhook_receiver.member_ids("cdp-sync-1") == {1}


def test_a_burst_of_5xx_then_success(webhook_receiver):
    connector = _connector(webhook_receiver)
    webhook_receiver.fail_next("502", times=3)
    delivery = batch("b-1", entered=[person(1, "ada@example.com")])
    for _ in range(3):
        with pytest.raises(TransientError):
            connector.deliver(delivery)
    assert connector.deliver(delivery).failures == []
    assert webhook_receiver.member_ids("cdp-sync-1") == {1}


def test_any_2xx_answer_is_success_even_when_not_json(webhook_receiver):
    webhook_receiver.fail_next("malformed")
    _connector(webhook_receiver).deliver(batch("b-1", entered=[person(1, "ada@example.com")]))


def test_other_4xx_is_terminal_with_the_receivers_message(webhook_receiver):
    webhook_receiver.fail_next("422")
    with pytest.raises(TerminalError) as error:
        _connector(webhook_receiver).deliver(batch("b-1", entered=[person(1, "a@example.com")]))
    assert error.value.message == (
        "The webhook receiver refused the request (422): scripted failure 422"
    )


def test_check_connection_sends_a_signed_empty_batch(webhook_receiver):
    check = _connector(webhook_receiver).check_connection()
    assert check.ok
    assert check.message.startswith("Connected: 127.0.0.1:")
    assert webhook_receiver.connection_checks == 1

    refused = _connector(webhook_receiver, secret="wrong").check_connection()
    assert not refused.ok
    assert "refused the signing secret (401)" in refused.message


def test_check_connection_explains_a_bad_url_or_an_unreachable_host(webhook_receiver):
    bad = WebhookDestination({"url": "ftp://example.com/x"}, {"signing_secret": SECRET})
    assert bad.check_connection().message == (
        "The endpoint URL must start with https:// (or http://)."
    )
    gone = WebhookDestination({"url": "http://127.0.0.1:9/"}, {"signing_secret": SECRET})
    check = gone.check_connection()
    assert not check.ok
    assert check.message.startswith("Could not reach the webhook receiver")


def test_subject_delete_sends_a_subject_deleted_event_once(webhook_receiver):
    connector = _connector(webhook_receiver)
    identifiers = {"email": ["ada@example.com"], "user_id": ["user-1"]}
    assert connector.subject_delete(identifiers).ok
    assert connector.subject_delete(identifiers).ok
    assert webhook_receiver.deleted_subjects == [identifiers]
    assert webhook_receiver.duplicate_batches == 1


def test_batch_size_is_bounded():
    with pytest.raises(TerminalError, match="between 1 and 10,000"):
        WebhookDestination({"url": "https://x.example", "batch_size": 0}, {})
    assert WebhookDestination({"url": "https://x.example", "batch_size": 50}, {}).max_batch == 50
