"""The integration admin's main journey in a real browser: create a source, watch events arrive."""

from unittest import mock

import pytest
from playwright.sync_api import expect
from segment.analytics.client import Client as SegmentClient

from integrations.models import Source
from integrations.selectors import write_key_cache_clear

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_a_source_and_sees_its_events_live(integration_admin, login, live_server):
    write_key_cache_clear()
    page = login(integration_admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Add a source").click()
    page.get_by_role("link", name="Tracking API").click()
    page.get_by_label("Name").fill("Website")
    page.get_by_role("button", name="Create source").click()
    source = Source.objects.get(name="Website")
    assert page.locator("#write-key").inner_text() == source.write_key
    assert page.locator("#endpoint").inner_text() == live_server.url

    page.get_by_role("link", name="Open the live debugger").click()
    page.get_by_text("No message yet").wait_for()

    with mock.patch("profiles.tasks.events_resolve_task.delay"):
        client = SegmentClient(source.write_key, host=live_server.url, sync_mode=True)
        client.track("user-42", "Order Completed", {"revenue": 39.95})
    summary = page.locator("#latest summary", has_text="Order Completed")
    summary.wait_for(timeout=10_000)
    summary.click()
    # The message's JSON is fetched when it is opened, and stays open through the polling.
    expect(page.locator("#latest pre").first).to_contain_text('"revenue": 39.95')
    page.wait_for_timeout(2_500)
    expect(page.locator("#latest pre").first).to_contain_text('"revenue": 39.95')
    assert page.locator('[data-type="track"]').inner_text() == "1"
