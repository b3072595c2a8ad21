"""Rotating a source's write key: a new key at once, the old one accepted by the tracking API
until its grace period ends, every rotation audited without the keys themselves."""

import base64
import datetime as dt
import json
import urllib.error
import urllib.request
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from integrations.models import Source
from integrations.selectors import write_key_cache_clear
from integrations.services import source_key_rotate
from profiles.models import Event
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_write_keys():
    write_key_cache_clear()
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        yield
    write_key_cache_clear()


def _track(client, key: str, message_id: str) -> int:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    body = {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": message_id}
    response = client.generic(
        "POST",
        "/v1/track",
        json.dumps(body).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    return response.status_code


def test_both_keys_work_during_the_grace_period_and_only_the_new_one_after(
    client, integration_admin
):
    web = SourceFactory(name="Web")
    old_key = web.write_key
    rotated = source_key_rotate(source=web, user=integration_admin, grace_hours=24)
    assert rotated.write_key != old_key
    assert rotated.previous_write_key == old_key
    assert _track(client, rotated.write_key, "new-1") == 200
    assert _track(client, old_key, "old-1") == 200
    assert set(Event.objects.values_list("message_id", flat=True)) == {"new-1", "old-1"}
    # The grace period ends.
    Source.objects.filter(pk=web.pk).update(
        previous_key_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    write_key_cache_clear()
    assert _track(client, old_key, "old-2") == 401
    assert _track(client, rotated.write_key, "new-2") == 200
    assert not Event.objects.filter(message_id="old-2").exists()


def test_a_cached_old_key_stops_when_its_grace_period_ends(client, integration_admin):
    web = SourceFactory(name="Web")
    old_key = web.write_key
    source_key_rotate(source=web, user=integration_admin, grace_hours=1)
    assert _track(client, old_key, "a") == 200  # now cached
    later = timezone.now() + dt.timedelta(hours=1, seconds=1)
    with mock.patch("integrations.selectors.timezone.now", return_value=later):
        write_key_cache_clear()
        assert _track(client, old_key, "b") == 401


def test_rotating_with_no_grace_stops_the_old_key_at_once(client, integration_admin):
    web = SourceFactory(name="Web")
    old_key = web.write_key
    assert _track(client, old_key, "before") == 200  # cached in this process
    rotated = source_key_rotate(source=web, user=integration_admin, grace_hours=0)
    assert (rotated.previous_write_key, rotated.previous_key_expires_at) == ("", None)
    assert _track(client, old_key, "after") == 401
    assert _track(client, rotated.write_key, "new") == 200


def test_a_second_rotation_replaces_the_key_in_grace(client, integration_admin):
    web = SourceFactory(name="Web")
    first = web.write_key
    second = source_key_rotate(source=web, user=integration_admin, grace_hours=24).write_key
    third = source_key_rotate(source=web, user=integration_admin, grace_hours=24).write_key
    assert _track(client, first, "1") == 401
    assert _track(client, second, "2") == 200
    assert _track(client, third, "3") == 200


@pytest.mark.django_db(transaction=True)
def test_the_old_key_works_over_http_until_the_grace_ends(live_server, integration_admin):
    web = SourceFactory(name="Web")
    old_key = web.write_key
    rotated = source_key_rotate(source=web, user=integration_admin, grace_hours=24)

    def send(key: str, message_id: str) -> int:
        body = json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": message_id})
        request = urllib.request.Request(  # noqa: S310 - the test's own server
            live_server.url + "/v1/track",
            data=body.encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    assert send(old_key, "old") == 200
    assert send(rotated.write_key, "new") == 200
    Source.objects.filter(pk=web.pk).update(
        previous_key_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    write_key_cache_clear()
    assert send(old_key, "late") == 401


def test_the_page_rotates_and_the_audit_log_keeps_no_key(client_for, integration_admin):
    web = SourceFactory(name="Web")
    old_key = web.write_key
    client = client_for(integration_admin)
    response = client.post(f"/sources/{web.pk}/rotate-key/", {"grace_hours": "24"}, follow=True)
    web.refresh_from_db()
    assert web.write_key != old_key
    page = response.content.decode()
    assert "The old key keeps working until" in page
    assert web.write_key in page
    assert 'id="previous-key-grace"' in page
    row = AuditEvent.objects.get(action="source.key_rotate")
    assert row.username == integration_admin.username
    assert row.detail["grace_hours"] == 24
    assert old_key not in json.dumps(row.detail)
    assert web.write_key not in json.dumps(row.detail)


def test_a_grace_period_not_offered_is_refused(client_for, integration_admin):
    web = SourceFactory(name="Web")
    key = web.write_key
    response = client_for(integration_admin).post(
        f"/sources/{web.pk}/rotate-key/", {"grace_hours": "999"}, follow=True
    )
    assert "Choose how long the old key keeps working." in response.content.decode()
    web.refresh_from_db()
    assert web.write_key == key
    assert not AuditEvent.objects.filter(action="source.key_rotate").exists()


@pytest.mark.parametrize("persona_name", ["marketer", "support_agent", "compliance_officer"])
def test_other_roles_cannot_rotate(persona_name, request, client_for):
    web = SourceFactory(name="Web")
    key = web.write_key
    user = request.getfixturevalue(persona_name)
    assert client_for(user).post(f"/sources/{web.pk}/rotate-key/").status_code == 403
    api = APIClient()
    api.force_authenticate(user)
    assert api.post(f"/api/sources/{web.pk}/rotate-key/").status_code == 403
    web.refresh_from_db()
    assert web.write_key == key


def test_the_api_rotates_the_key(integration_admin, client):
    web = SourceFactory(name="Web")
    old_key = web.write_key
    api = APIClient()
    api.force_authenticate(integration_admin)
    answer = api.post(f"/api/sources/{web.pk}/rotate-key/", {"grace_hours": 1}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["source"] == web.pk
    assert body["write_key"] == Source.objects.get(pk=web.pk).write_key != old_key
    assert body["previous_key_valid_until"]
    assert _track(client, old_key, "old") == 200
    refused = api.post(f"/api/sources/{web.pk}/rotate-key/", {"grace_hours": 5}, format="json")
    assert refused.status_code == 400
    assert AuditEvent.objects.filter(action="source.key_rotate").count() == 1


def test_connector_sources_have_no_key_to_rotate(integration_admin):
    shop = SourceFactory(name="Shop", kind="shopify_orders")
    with pytest.raises(Exception, match="Only tracking API sources"):
        source_key_rotate(source=shop, user=integration_admin, grace_hours=24)
