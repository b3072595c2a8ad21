"""The Meta custom audience destination against a Marketing API stand-in: hashed, batched, safe."""

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.connectors.base import TerminalError, TransientError
from integrations.connectors.hashing import hashed_email, hashed_phone, phone_normalise
from integrations.connectors.meta_audience import MetaAudienceDestination
from integrations.connectors.registry import connector_class
from tests.integrations.destinations.records import batch, person

AUDIENCE = "23850000000000001"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _connector(server, token=None, **config):
    return MetaAudienceDestination(
        {"base_url": server.url, "audience_id": AUDIENCE, "timeout_seconds": 1, **config},
        {"access_token": token or server.access_token},
    )


def test_registered_with_its_form():
    cls = connector_class("meta_audience", kind="destination")
    assert cls is MetaAudienceDestination
    assert cls.max_batch == 10_000
    assert [f.name for f in cls.fields if f.kind == "secret"] == ["access_token"]


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("+44 7700 900123", "447700900123"),
        ("+447700900123", "447700900123"),
        ("(650) 555-1212", "16505551212"),  # the default region (US) gives the country code
        ("not a phone", None),
    ],
)
def test_phones_become_digits_with_the_country_code(value, normalised):
    assert phone_normalise(value) == normalised


def test_emails_are_trimmed_and_lower_cased_before_hashing():
    assert hashed_email("  Ada.Lovelace@Example.COM \n") == _sha("ada.lovelace@example.com")
    assert hashed_phone("+44 7700 900123") == _sha("447700900123")
    assert hashed_email("") == hashed_phone(None) == ""


def test_entries_are_added_and_exits_removed_by_hash(meta_server):
    connector = _connector(meta_server)
    ada = person(1, "Ada@Example.com", "+447700900123")
    bob = person(2, "bob@example.com")
    eve = person(3, phone="+16505551212")
    assert connector.deliver(batch("b-1", entered=[ada, bob, eve])).failures == []
    request = meta_server.requests[0]
    assert (request.method, request.path) == ("POST", f"/v25.0/{AUDIENCE}/users")
    assert request.json()["payload"] == {
        "schema": ["EMAIL", "PHONE"],
        "data": [
            [_sha("ada@example.com"), _sha("447700900123")],
            [_sha("bob@example.com"), ""],
            ["", _sha("16505551212")],
        ],
    }
    assert connector.deliver(batch("b-2", exited=[ada])).failures == []
    assert meta_server.requests[1].method == "DELETE"
    assert meta_server.audiences[AUDIENCE].keys() == {_sha("bob@example.com"), _sha("16505551212")}


def test_the_receiver_never_sees_a_plain_email_or_phone(meta_server):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        emails=st.lists(st.emails(), min_size=1, max_size=5),
        national=st.lists(st.integers(2_012_000_000, 9_899_999_999), min_size=1, max_size=5),
    )
    def check(emails, national):
        phones = [f"+1{n}" for n in national]
        records = [
            person(n, email, phones[n % len(phones)], first_name="Ada")
            for n, email in enumerate(emails)
        ]
        meta_server.requests.clear()
        meta_server.values_seen.clear()
        connector = _connector(meta_server)
        connector.deliver(batch("b-1", entered=records, exited=records[:1]))
        connector.subject_delete({"email": emails, "phone": phones})
        raw = b"".join(request.body for request in meta_server.requests).decode()
        assert meta_server.values_seen
        assert all(len(value) == 64 for value in meta_server.values_seen)
        for email in emails:
            assert email not in raw
            assert email.strip().lower() not in raw
        for phone in phones:
            assert phone[1:] not in raw
        assert "Ada" not in raw  # traits are not sent at all

    check()


def test_more_than_10000_rows_go_in_one_session_of_several_requests(meta_server):
    records = [person(n, f"p{n}@example.com") for n in range(1, 10_002)]
    delivery = batch("b-1", entered=records)
    assert _connector(meta_server).deliver(delivery).failures == []
    assert [len(r.json()["payload"]["data"]) for r in meta_server.requests] == [10_000, 1]
    sessions = meta_server.audiences[AUDIENCE].sessions
    assert sessions[0]["session_id"] == sessions[1]["session_id"]
    assert [(s["batch_seq"], s["last_batch_flag"]) for s in sessions] == [(1, False), (2, True)]
    assert sessions[0]["estimated_num_total"] == 10_001
    # The same batch retried is the same upload session.
    _connector(meta_server).deliver(delivery)
    assert sessions[2]["session_id"] == sessions[0]["session_id"]
    assert len(meta_server.audiences[AUDIENCE].rows) == 10_001


def test_a_profile_with_nothing_to_match_on_fails_alone(meta_server):
    failures = (
        _connector(meta_server)
        .deliver(batch("b-1", entered=[person(1, "ada@example.com"), person(2, "no-at-sign")]))
        .failures
    )
    assert [(f.profile_id, f.transient) for f in failures] == [(2, False)]
    assert "No e-mail or phone to match on" in failures[0].reason
    assert meta_server.audiences[AUDIENCE].keys() == {_sha("ada@example.com")}


def test_entries_meta_could_not_use_become_record_failures(meta_server, monkeypatch):
    # A value Meta samples as invalid is pinned on the profile that carried it.
    monkeypatch.setattr(
        "integrations.connectors.meta_audience.hashed_phone",
        lambda value: "not-a-hash" if value else "",
    )
    failures = (
        _connector(meta_server)
        .deliver(batch("b-1", entered=[person(1, "ada@example.com", "+447700900123")]))
        .failures
    )
    assert [(f.profile_id, f.reason) for f in failures] == [
        (1, "Meta could not use this entry: Invalid format")
    ]


@pytest.mark.parametrize(
    ("mode", "retry_after", "said"),
    [
        ("throttle", None, "Meta failed (400): (#17) User request limit reached"),
        ("429", 30, "Meta asked us to slow down (429)"),
        ("500", None, "Meta failed (500)"),
        ("hang", None, "Meta did not answer in time"),
        ("malformed", None, "Meta sent an answer that is not JSON"),
    ],
)
def test_throttles_and_outages_are_transient(meta_server, mode, retry_after, said):
    meta_server.fail_next(mode, retry_after=retry_after)
    connector = _connector(meta_server)
    delivery = batch("b-1", entered=[person(1, "ada@example.com")])
    with pytest.raises(TransientError) as error:
        connector.deliver(delivery)
    assert error.value.message.startswith(said)
    connector.deliver(delivery)
    assert meta_server.audiences[AUDIENCE].keys() == {_sha("ada@example.com")}


def test_a_bad_token_is_terminal_and_named_without_being_shown(meta_server):
    with pytest.raises(TerminalError) as error:
        _connector(meta_server, token="EAAwrong").deliver(
            batch("b-1", entered=[person(1, "ada@example.com")])
        )
    assert error.value.message.startswith(
        "Meta refused the access token (400): Invalid OAuth access token"
    )
    assert "EAAwrong" not in error.value.message


def test_other_refusals_quote_meta(meta_server):
    with pytest.raises(TerminalError) as error:
        _connector(meta_server, audience_id="999").deliver(
            batch("b-1", entered=[person(1, "ada@example.com")])
        )
    assert error.value.message == (
        "Meta refused the request (400): Unsupported request - object does not exist or "
        "cannot be loaded"
    )


def test_check_connection(meta_server):
    assert _connector(meta_server).check_connection().message == (
        'Connected to the custom audience "Big spenders" (at least 0 people).'
    )
    refused = _connector(meta_server, token="nope").check_connection()
    assert not refused.ok
    assert "access token" in refused.message
    bad_id = _connector(meta_server, audience_id="act_12").check_connection()
    assert bad_id.message == "The custom audience ID must be the audience's number."


def test_subject_delete_removes_every_key_of_the_person(meta_server):
    connector = _connector(meta_server)
    connector.deliver(
        batch(
            "b-1",
            entered=[person(1, "ada@example.com", "+447700900123"), person(2, "bob@example.com")],
        )
    )
    answer = connector.subject_delete({"email": ["ada@example.com"], "phone": ["+447700900123"]})
    assert answer.ok
    assert answer.message == "Meta took the removal of 2 hashed identifier(s) from the audience."
    assert meta_server.audiences[AUDIENCE].keys() == {_sha("bob@example.com")}
