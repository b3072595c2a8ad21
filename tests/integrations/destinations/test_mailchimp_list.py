"""The Mailchimp audience destination against a server speaking the Marketing API 3.0."""

import hashlib

import pytest

from integrations.connectors.base import TerminalError, TransientError
from integrations.connectors.mailchimp_list import MailchimpListDestination, subscriber_hash
from integrations.connectors.registry import connector_class
from tests.integrations.destinations.records import batch, person


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _connector(server, api_key=None, **config):
    return MailchimpListDestination(
        {"base_url": server.url, "list_id": "list1", "timeout_seconds": 1, **config},
        {"api_key": api_key or server.api_key},
    )


def test_registered_with_its_form():
    cls = connector_class("mailchimp_list", kind="destination")
    assert cls is MailchimpListDestination
    assert cls.max_batch == 500
    assert cls.can_delete
    assert [f.name for f in cls.fields if f.kind == "secret"] == ["api_key"]


def test_subscriber_hash_is_md5_of_the_lower_cased_email():
    assert (
        subscriber_hash(" Ada@Example.COM ")
        == hashlib.md5(b"ada@example.com", usedforsecurity=False).hexdigest()
    )


def test_entries_are_upserted_in_one_batch_request_and_exits_archived(mailchimp_server):
    connector = _connector(mailchimp_server)
    ada = person(1, "Ada@Example.com", first_name="Ada", last_name="Lovelace", plan="pro")
    bob = person(2, "bob@example.com", first_name="Bob")
    assert connector.deliver(batch("b-1", entered=[ada, bob])).failures == []

    request = mailchimp_server.requests[0]
    assert (request.method, request.path) == ("POST", "/3.0/lists/list1")
    assert request.json() == {
        "members": [
            {
                "email_address": "Ada@Example.com",
                "status_if_new": "subscribed",
                "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"},
            },
            {
                "email_address": "bob@example.com",
                "status_if_new": "subscribed",
                "merge_fields": {"FNAME": "Bob"},
            },
        ],
        "update_existing": True,
    }
    assert connector.deliver(batch("b-2", exited=[bob])).failures == []
    assert mailchimp_server.requests[1].method == "DELETE"
    assert (
        mailchimp_server.requests[1].path == f"/3.0/lists/list1/members/{_md5('bob@example.com')}"
    )
    assert mailchimp_server.lists["list1"].statuses() == {
        "ada@example.com": "subscribed",
        "bob@example.com": "archived",
    }


def test_a_replayed_batch_changes_nothing_and_unsubscribed_people_stay_unsubscribed(
    mailchimp_server,
):
    connector = _connector(mailchimp_server, status_if_new="pending")
    delivery = batch("b-1", entered=[person(1, "ada@example.com", first_name="Ada")])
    connector.deliver(delivery)
    members = mailchimp_server.lists["list1"].members
    next(iter(members.values()))["status"] = "unsubscribed"  # Ada unsubscribes in Mailchimp
    connector.deliver(delivery)
    assert mailchimp_server.lists["list1"].statuses() == {"ada@example.com": "unsubscribed"}
    assert len(members) == 1


def test_archiving_someone_not_on_the_list_is_success(mailchimp_server):
    result = _connector(mailchimp_server).deliver(batch("b-1", exited=[person(9, "x@example.com")]))
    assert result.failures == []


def test_per_member_errors_become_record_failures_with_mailchimps_words(mailchimp_server):
    mailchimp_server.refuse["carol@example.com"] = (
        "carol@example.com has signed up to a lot of lists very recently; "
        "we're not allowing more signups for now"
    )
    records = [
        person(1, "ada@example.com"),
        person(2, "not-an-email"),
        person(3, "carol@example.com"),
        person(4),  # no e-mail at all
    ]
    failures = _connector(mailchimp_server).deliver(batch("b-1", entered=records)).failures
    assert {(f.profile_id, f.transient) for f in failures} == {
        (2, False),
        (3, False),
        (4, False),
    }
    reasons = {f.profile_id: f.reason for f in failures}
    assert reasons[2] == (
        "not-an-email looks fake or invalid, please enter a real email address. (ERROR)"
    )
    assert "signed up to a lot of lists very recently" in reasons[3]
    assert reasons[4] == "No e-mail address: a Mailchimp list keeps people by e-mail."
    assert mailchimp_server.lists["list1"].statuses() == {"ada@example.com": "subscribed"}


def test_more_than_500_entries_go_in_several_requests(mailchimp_server):
    records = [person(n, f"p{n}@example.com") for n in range(1, 1202)]
    assert _connector(mailchimp_server).deliver(batch("b-1", entered=records)).failures == []
    assert [len(r.json()["members"]) for r in mailchimp_server.requests] == [500, 500, 201]
    assert len(mailchimp_server.lists["list1"].members) == 1201


def test_a_refused_api_key_stops_the_batch_and_is_not_shown(mailchimp_server):
    connector = _connector(mailchimp_server, api_key="wrong-key-us6")
    for delivery in (
        batch("b-1", entered=[person(1, "ada@example.com")]),
        batch("b-2", exited=[person(1, "ada@example.com")]),
    ):
        with pytest.raises(TerminalError) as error:
            connector.deliver(delivery)
        assert error.value.message.startswith(
            "Mailchimp refused the API key (401): API Key Invalid"
        )
        assert "wrong-key" not in error.value.message


@pytest.mark.parametrize(
    ("mode", "retry_after", "said"),
    [
        ("429", 3, "Mailchimp asked us to slow down (429)"),
        ("503", None, "Mailchimp failed (503)"),
        ("hang", None, "Mailchimp did not answer in time"),
        ("malformed", None, "Mailchimp sent an answer that is not JSON (200)"),
    ],
)
def test_transient_failures(mailchimp_server, mode, retry_after, said):
    mailchimp_server.fail_next(mode, retry_after=retry_after)
    connector = _connector(mailchimp_server)
    delivery = batch("b-1", entered=[person(1, "ada@example.com")])
    with pytest.raises(TransientError) as error:
        connector.deliver(delivery)
    assert error.value.message.startswith(said)
    assert error.value.retry_after == (float(retry_after) if retry_after else None)
    assert connector.deliver(delivery).failures == []
    assert mailchimp_server.lists["list1"].statuses() == {"ada@example.com": "subscribed"}


def test_a_5xx_burst_while_archiving_is_retried_without_harm(mailchimp_server):
    connector = _connector(mailchimp_server)
    connector.deliver(
        batch("b-1", entered=[person(1, "a@example.com"), person(2, "b@example.com")])
    )
    exits = batch("b-2", exited=[person(1, "a@example.com"), person(2, "b@example.com")])
    mailchimp_server.fail_next("after_store:502")  # the first archive happens, its answer is lost
    with pytest.raises(TransientError):
        connector.deliver(exits)
    assert connector.deliver(exits).failures == []
    assert set(mailchimp_server.lists["list1"].statuses().values()) == {"archived"}


def test_check_connection(mailchimp_server):
    _connector(mailchimp_server).deliver(batch("b-1", entered=[person(1, "a@example.com")]))
    assert _connector(mailchimp_server).check_connection().message == (
        'Connected to the audience "Newsletter" (1 subscribed).'
    )
    missing = _connector(mailchimp_server, list_id="nope").check_connection()
    assert (missing.ok, missing.message) == (
        False,
        "Mailchimp has no audience with this ID: check the audience ID.",
    )
    refused = _connector(mailchimp_server, api_key="bad-us6").check_connection()
    assert not refused.ok
    assert "refused the API key (401)" in refused.message


def test_the_data_centre_comes_from_the_api_key():
    connector = MailchimpListDestination({"list_id": "abc"}, {"api_key": "0123abcd-us6"})
    assert connector._list_url() == "https://us6.api.mailchimp.com/3.0/lists/abc"
    no_centre = MailchimpListDestination({"list_id": "abc"}, {"api_key": "0123abcd"})
    assert "data centre" in no_centre.check_connection().message


def test_subject_delete_is_permanent(mailchimp_server):
    connector = _connector(mailchimp_server)
    connector.deliver(batch("b-1", entered=[person(1, "ada@example.com")]))
    answer = connector.subject_delete({"email": ["ada@example.com", "old@example.com"]})
    assert answer.ok
    assert answer.message == (
        "Mailchimp deleted 1 member(s) permanently; 1 address(es) were not on the list."
    )
    assert mailchimp_server.lists["list1"].members == {}
    # Mailchimp refuses to import a permanently deleted address again.
    failures = connector.deliver(batch("b-2", entered=[person(1, "ada@example.com")])).failures
    assert "cannot be re-imported" in failures[0].reason
