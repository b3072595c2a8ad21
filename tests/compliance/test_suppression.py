"""Suppression: an erased person's later data is dropped at the tracking API, counted per source,
and others' data still flows; the list keeps keyed hashes, never the values."""

import base64
import json

import pytest

from compliance.models import SuppressedDrop, Suppression
from compliance.requests import request_create, request_run, request_verify
from compliance.selectors import (
    identifier_hash,
    profile_ids_suppressed,
    suppressed_identifier_hashes,
)
from integrations.selectors import write_key_cache_clear
from profiles.identity import events_resolve_pending
from profiles.models import Event, Profile
from tests.compliance.scene import JANE_EMAIL, JANE_USER, MARY_USER, scene_build

pytestmark = pytest.mark.django_db


def _post(client, source, batch):
    auth = "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()
    return client.generic(
        "POST",
        "/v1/batch",
        json.dumps({"batch": batch}).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )


@pytest.fixture
def erased(compliance_officer, django_capture_on_commit_callbacks):
    scene = scene_build()
    request = request_create(
        user=compliance_officer, type="erasure", identifiers={"email": JANE_EMAIL}
    )
    request_verify(request=request, user=compliance_officer)
    with django_capture_on_commit_callbacks(execute=True):
        request_run(request=request, user=compliance_officer)
    write_key_cache_clear()
    return scene


def test_suppressed_person_is_dropped_at_the_tracking_api_and_counted(client, erased):
    source = erased["source"]
    before = Event.objects.count()
    response = _post(
        client,
        source,
        [
            # Jane again: by her user id, by her e-mail written otherwise, by her phone in context.
            {"type": "track", "userId": JANE_USER, "event": "Came Back"},
            {
                "type": "identify",
                "anonymousId": "new-device-1",
                "traits": {"email": " JANE.doe@example.COM "},
            },
            {
                "type": "track",
                "anonymousId": "new-device-2",
                "event": "X",
                "context": {"traits": {"phone": "(415) 555-0123"}},
            },
            # Mary still flows.
            {"type": "track", "userId": MARY_USER, "event": "Order Completed"},
        ],
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert Event.objects.count() == before + 1
    assert Event.objects.filter(user_id=MARY_USER, event="Order Completed").count() == 2
    assert not Event.objects.filter(event="Came Back").exists()
    drops = SuppressedDrop.objects.get(source_id=source.pk)
    assert drops.count == 3
    _post(client, source, [{"type": "track", "userId": JANE_USER, "event": "Again"}])
    drops.refresh_from_db()
    assert drops.count == 4


def test_suppression_list_keeps_keyed_hashes_only(erased):
    digests = set(Suppression.objects.values_list("digest", flat=True))
    assert identifier_hash("email", "jane.doe@example.com") in digests
    assert identifier_hash("user_id", JANE_USER) in digests
    assert all(len(digest) == 64 and "@" not in digest for digest in digests)
    assert suppressed_identifier_hashes([identifier_hash("user_id", JANE_USER), "f" * 64]) == {
        identifier_hash("user_id", JANE_USER)
    }


def test_profile_ids_suppressed_names_a_profile_recreated_by_another_path(erased):
    from tests.factories import EventFactory

    EventFactory(type="identify", user_id=JANE_USER, anonymous_id="")
    events_resolve_pending()
    back = Profile.objects.get(identities__value=JANE_USER)
    mary = erased["mary"]
    assert profile_ids_suppressed([back.pk, mary.pk]) == {back.pk}


def test_empty_list_lets_everything_through(client):
    from tests.factories import SourceFactory

    source = SourceFactory()
    write_key_cache_clear()
    response = _post(client, source, [{"type": "track", "userId": JANE_USER, "event": "A"}])
    assert response.json()["accepted"] == 1
    assert not SuppressedDrop.objects.exists()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "identify", "userId": " u-1 ", "traits": {"email": "Jo.Ann+x@Example.COM"}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"email": "jo@bücher.de"}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"email": "not an address"}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"email": "a..b@example.com"}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"phone": "+14155550123"}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"phone": "(415) 555-0123"}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"phone": "+1 415 555 0123"}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"phone": 14155550123}},
        {"type": "identify", "anonymousId": "a-1", "traits": {"phone": "+999"}},
        {"type": "track", "event": "E", "userId": "u", "context": {"traits": {"email": "X@Y.io"}}},
        {"type": "alias", "userId": "u-2", "previousId": "anon-7"},
        {
            "type": "track",
            "event": "E",
            "anonymousId": "a",
            "context": {
                "device": {"id": "dev-1"},
                "externalIds": [{"type": "Email", "id": "Q@W.io"}],
            },
        },
    ],
)
def test_suppression_reads_identifiers_as_identity_resolution_does(message):
    from django.utils import timezone

    from compliance.suppression import row_identifiers
    from integrations.tracking.ingest import message_row
    from profiles.normalise import RuleBook, identifiers_extract

    row = message_row(
        message,
        batch_context=None,
        batch_integrations=None,
        sent_at=None,
        received_at=timezone.now(),
    )
    expected = identifiers_extract(
        user_id=row[4],
        anonymous_id=row[5],
        previous_id=row[7],
        event_type=row[1],
        traits=row[8],
        context=row[10],
        rules=RuleBook(),
    )
    assert row_identifiers(row) == set(expected)
