"""Mapping CSV columns to messages, the guess from the header, and the webhook signature."""

import pytest

from cdp_site.errors import InvalidInputError
from integrations.csv_import.guess import mapping_guess
from integrations.csv_import.mapping import RowError, RowMapper, mapping_clean, row_version
from integrations.webhooks.signature import (
    SignatureError,
    signature_header,
    signature_verify,
)

HEADER = ("Customer ID", "E-mail", "First name", "Loyalty tier", "Signed up")


def test_the_guess_maps_obvious_columns_and_keeps_the_rest_as_traits():
    assert mapping_guess(HEADER) == {
        "type": "identify",
        "event": "",
        "columns": {
            "Customer ID": "userId",
            "E-mail": "email",
            "First name": "trait:first_name",
            "Loyalty tier": "trait:loyalty_tier",
            "Signed up": "trait:signed_up",
        },
    }


def test_an_event_column_makes_the_guess_a_track():
    guess = mapping_guess(("email_address", "Event", "Amount", "Date", "Phone number"))
    assert guess["type"] == "track"
    assert guess["columns"] == {
        "email_address": "email",
        "Event": "event",
        "Amount": "property:amount",
        "Date": "timestamp",
        "Phone number": "phone",
    }


def test_the_guess_keeps_the_previous_mapping_of_a_source():
    previous = {"type": "identify", "event": "", "columns": {"E-mail": "ignore", "Old": "userId"}}
    guess = mapping_guess(("E-mail", "user id"), previous)
    assert guess["columns"] == {"E-mail": "ignore", "user id": "userId"}


def test_an_identify_row_becomes_an_identify_message():
    mapper = RowMapper(mapping_guess(HEADER), HEADER)
    assert mapper.message(["c-1", "ann@x.io", "Ann", "gold", "2024-02-01"]) == {
        "type": "identify",
        "userId": "c-1",
        "traits": {
            "email": "ann@x.io",
            "first_name": "Ann",
            "loyalty_tier": "gold",
            "signed_up": "2024-02-01",
        },
    }


def test_a_row_known_only_by_email_gets_a_stable_anonymous_id():
    mapper = RowMapper(mapping_guess(HEADER), HEADER)
    one = mapper.message(["", "Ann@x.io ", "", "", ""])
    two = mapper.message(["", "ann@x.io", "Ann", "", ""])
    assert one["anonymousId"] == two["anonymousId"]
    assert one["anonymousId"].startswith("email-")
    assert "userId" not in one


def test_a_track_row_puts_identifiers_in_context_traits():
    header = ("email", "event", "amount", "when")
    mapper = RowMapper(mapping_guess(header), header)
    assert mapper.message(["a@x.io", "Order Completed", "12.50", "2024-03-01T10:00:00Z"]) == {
        "type": "track",
        "anonymousId": mapper.message(["a@x.io", "x", "", ""])["anonymousId"],
        "event": "Order Completed",
        "properties": {"amount": "12.50"},
        "context": {"traits": {"email": "a@x.io"}},
        "timestamp": "2024-03-01T10:00:00Z",
    }


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (["c-1", "a@x.io"], "The row has 2 fields; the header has 5."),
        (["", "", "Ann", "", ""], "No identifier: “Customer ID”, “E-mail” are all empty."),
        (["", "not-an-email", "", "", ""], "Column “E-mail”: “not-an-email” is not an e-mail"),
        (["c\x00", "", "", "", ""], "Column “Customer ID” holds a NUL character."),
        (["x" * 256, "", "", "", ""], "an id may have at most 255 characters"),
    ],
)
def test_bad_rows_say_why(fields, reason):
    mapper = RowMapper(mapping_guess(HEADER), HEADER)
    with pytest.raises(RowError) as problem:
        mapper.message(fields)
    assert reason in problem.value.reason


def test_a_bad_timestamp_is_a_bad_row():
    mapping = {"type": "identify", "columns": {"id": "userId", "at": "timestamp"}}
    mapper = RowMapper(mapping, ("id", "at"))
    with pytest.raises(RowError, match="yesterday"):
        mapper.message(["1", "yesterday"])


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"type": "page"}, "type must be identify or track"),
        ({"columns": {"a": "nonsense"}}, "is not a column target"),
        ({"columns": {"a": "trait:"}}, "needs a name"),
        ({"columns": {"a": "userId", "b": "userId"}}, "Only one column can be the user id"),
        ({"type": "track", "columns": {"a": "userId"}}, "needs an event name"),
        ({"columns": {"a": "trait:x"}}, "at least one column to an identifier"),
    ],
)
def test_a_bad_mapping_says_what_to_fix(mapping, message):
    with pytest.raises(InvalidInputError, match=message):
        mapping_clean(mapping, ("a", "b"))


def test_the_version_changes_with_the_row_and_the_mapping():
    assert row_version("m1", ["a", "b"]) == row_version("m1", ["a", "b"])
    assert row_version("m1", ["a", "b"]) != row_version("m1", ["a", "c"])
    assert row_version("m1", ["a", "b"]) != row_version("m2", ["a", "b"])
    assert row_version("m1", ["a,b"]) != row_version("m1", ["a", "b"])


SECRET = "whsec_test"
BODY = b'{"id": "evt_1"}'


def test_a_signed_body_is_accepted():
    signature_verify(
        secret=SECRET,
        header=signature_header(SECRET, BODY, 1_700_000_000),
        body=BODY,
        now=1_700_000_100,
    )


def test_any_of_several_signatures_may_match_during_a_rotation():
    good = signature_header(SECRET, BODY, 1_700_000_000).split(",")[1]
    header = f"t=1700000000,v1={'0' * 64},{good}"
    signature_verify(secret=SECRET, header=header, body=BODY, now=1_700_000_000)


@pytest.mark.parametrize(
    ("header", "body", "now", "code"),
    [
        (None, BODY, 1_700_000_000, "missing_signature"),
        ("v1=abc", BODY, 1_700_000_000, "invalid_signature"),
        ("t=soon,v1=abc", BODY, 1_700_000_000, "invalid_signature"),
        (signature_header("other", BODY, 1_700_000_000), BODY, 1_700_000_000, "invalid_signature"),
        (
            signature_header(SECRET, BODY, 1_700_000_000),
            BODY + b" ",
            1_700_000_000,
            "invalid_signature",
        ),
        (signature_header(SECRET, BODY, 1_700_000_000), BODY, 1_700_000_301, "stale_signature"),
        (signature_header(SECRET, BODY, 1_700_000_000), BODY, 1_699_999_699, "stale_signature"),
    ],
)
def test_a_bad_or_replayed_signature_is_refused(header, body, now, code):
    with pytest.raises(SignatureError) as problem:
        signature_verify(secret=SECRET, header=header, body=body, now=now)
    assert problem.value.code == code


def test_the_signature_follows_the_documented_recipe():
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_test", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, BODY, 1_700_000_000) == f"t=1700000000,v1={expected}"
