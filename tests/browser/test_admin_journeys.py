"""The integration admin's and the compliance officer's first hour, in a real browser.

The admin opens the System page (the backlog loads and refreshes itself), opens a source, copies
its write key, rotates it and copies the new one (the old key still takes events), and discards a
quarantined message after reading why it was refused. The compliance officer reads the audit
log, whose filters leave the table in view, and is told what is wrong with a bad filter.
"""

import base64
import json
import urllib.error
import urllib.request
from unittest import mock

import pytest
from django.utils import timezone

from compliance.models import AuditEvent
from integrations.models import QuarantinedMessage, Source
from tests.factories import EventFactory, SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _send(base_url: str, key: str, message_id: str) -> int:
    body = json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": message_id})
    request = urllib.request.Request(  # noqa: S310 - the test's own server
        base_url + "/v1/track",
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


def _clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_the_integration_admins_first_hour(integration_admin, login, live_server):
    web = SourceFactory(name="Web")
    EventFactory(source=web, received_at=timezone.now())
    QuarantinedMessage.objects.create(
        source=web,
        code="invalid_timestamp",
        reason="“timestamp” is not a date",
        payload='{"type": "track", "timestamp": "yesterday"}',
        received_at=timezone.now(),
    )
    page = login(integration_admin)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # The System page: the backlog fragment loads by itself, the rest is there.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="System").click()
    page.locator("#backlog-waiting").wait_for()
    assert page.locator("#backlog-waiting").inner_text() == "1"
    assert page.get_by_role("heading", name="Queues").is_visible()
    assert "No task failed in the last 24 hours." in page.locator("#failures").inner_text()

    # The source: copy its key.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Web").click()
    old_key = web.write_key
    copy_key = page.locator('button[data-copy-target="#write-key"]')
    copy_key.click()
    assert copy_key.inner_text() == "Copied"
    assert _clipboard(page) == old_key
    assert page.locator("#events-per-day").is_visible()

    # Rotate it, with a day's grace, and copy the new one.
    page.get_by_label("The old key keeps working for").select_option("24")
    page.get_by_role("button", name="Rotate the write key").click()
    page.get_by_text("The old key keeps working until").wait_for()
    new_key = Source.objects.get(pk=web.pk).write_key
    assert new_key != old_key
    assert page.locator("#write-key").inner_text() == new_key
    assert page.locator("#previous-key-grace").is_visible()
    page.locator('button[data-copy-target="#write-key"]').click()
    assert _clipboard(page) == new_key
    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        assert _send(live_server.url, old_key, "old-key") == 200
        assert _send(live_server.url, new_key, "new-key") == 200

    # The quarantine: the reason beside the message, then discard it.
    page.get_by_role("link", name="Open the live debugger").click()
    quarantine = page.locator("#quarantine")
    assert "“timestamp” is not a date" in quarantine.inner_text()
    quarantine.get_by_text("Discard…").click()
    quarantine.get_by_role("button", name="Yes, discard it").click()
    page.get_by_text("Message discarded: it will not be replayed.").wait_for()
    assert page.get_by_text("Nothing in quarantine.").is_visible()
    assert QuarantinedMessage.objects.get().status == QuarantinedMessage.Status.DISCARDED
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "source.key_rotate",
        "quarantine.discard",
    }


def test_the_compliance_officer_reads_the_log_and_is_told_of_a_bad_filter(
    compliance_officer, support_agent, login
):
    for n in range(30):
        AuditEvent.objects.create(
            user=support_agent,
            username=support_agent.username,
            action="profile.view",
            profile_id=n + 1,
            detail={"page": "customer 360"},
        )
    page = login(compliance_officer)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    table = page.locator("#audit-rows")
    table.wait_for()
    # The filters take one compact row: the table starts well within the first screen.
    assert page.locator("form.filters").bounding_box()["height"] < 120
    assert table.bounding_box()["y"] < 450
    assert "Page" in table.locator("tbody tr").first.inner_text()
    assert "customer 360" in table.locator("tbody tr").first.inner_text()

    # From after To: told so, in place, and nothing is listed.
    page.get_by_label("From").fill("2026-05-02")
    page.get_by_label("To").fill("2026-05-01")
    page.get_by_role("button", name="Filter").click()
    errors = page.locator("#filter-errors")
    errors.wait_for()
    assert "To (2026-05-01) is before From (2026-05-02)" in errors.inner_text()
    assert page.locator("#audit-until-error").is_visible()
    assert page.locator("#audit-rows").count() == 0

    # A hand-written bad address is explained too.
    page.goto("/compliance/audit/?since=9999-99-99&profile=abc")
    text = page.locator("#filter-errors").inner_text()
    assert "“9999-99-99” is not a date" in text
    assert "“abc” is not a profile id" in text
    page.get_by_role("link", name="Clear").click()
    page.locator("#audit-rows").wait_for()
