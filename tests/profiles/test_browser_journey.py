"""A support agent's journey in a real browser: search as you type, open the profile, page
through and filter the timeline, expand an event, undo a merge."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from profiles.identity import events_resolve_pending
from profiles.models import ProfileMerge
from tests.factories import EventFactory, SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def customer():
    web, desk = SourceFactory(name="Web"), SourceFactory(name="Helpdesk")
    EventFactory(source=web, type="page", name="Home", anonymous_id="a-r", timestamp=T0)
    EventFactory(
        source=web,
        type="identify",
        anonymous_id="a-r",
        user_id="rosa-1",
        traits={"email": "rosa.silva@example.com", "name": "Rosa Silva"},
        timestamp=T0 + dt.timedelta(minutes=1),
    )
    for n in range(55):
        EventFactory(
            source=web,
            type="track",
            event="Product Viewed",
            anonymous_id="",
            user_id="rosa-1",
            properties={"sku": f"sku-{n}"},
            timestamp=T0 + dt.timedelta(hours=1, minutes=n),
        )
    # A helpdesk contact known only by e-mail first, merged in by a later identify.
    EventFactory(
        source=desk,
        type="track",
        event="Ticket Created",
        anonymous_id="desk-9",
        context={"traits": {"email": "rosa.s@work.example"}},
        timestamp=T0 + dt.timedelta(minutes=5),
    )
    events_resolve_pending()
    EventFactory(
        source=web,
        type="identify",
        anonymous_id="",
        user_id="rosa-1",
        traits={"email": "Rosa.S@work.example"},
        timestamp=T0 + dt.timedelta(days=2),
    )
    events_resolve_pending()
    return ProfileMerge.objects.get().winner


def test_support_agent_searches_opens_profile_reads_timeline_and_undoes_merge(
    customer, support_agent, login
):
    page = login(support_agent)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.get_by_label("Find a customer").fill("ROSA.SILVA@example.com")
    page.get_by_text("exact email").wait_for()
    page.get_by_role("link", name="Rosa Silva").click()
    page.get_by_role("heading", name="Rosa Silva").wait_for()
    assert page.locator(".timeline-item").count() == 25
    page.get_by_role("link", name="Older events").click()
    expect(page.locator(".timeline-item")).to_have_count(59)
    page.get_by_label("Type").select_option("identify")
    expect(page.locator(".timeline-item")).to_have_count(2)
    page.locator(".timeline-item summary").first.click()
    assert "rosa-1" in page.locator(".timeline-item pre").first.inner_text()
    page.get_by_label("Type").select_option("")
    expect(page.locator(".timeline-item")).to_have_count(50)
    page.get_by_label("Source").select_option(label="Helpdesk")
    expect(page.locator(".timeline-item")).to_have_count(1)
    assert page.locator("#activity-chart .main-svg").count() >= 1
    page.get_by_role("link", name="Undo merge…").click()
    page.get_by_role("button", name="Yes, undo the merge").click()
    page.get_by_text("Merge undone").wait_for()
    assert ProfileMerge.objects.get().undone


def test_back_brings_the_previous_search_back_into_the_box(customer, support_agent, login):
    page = login(support_agent)
    page.goto("/customers/")
    box = page.get_by_label("Find a customer")
    box.fill("ROSA.SILVA@example.com")
    page.get_by_text("exact email").wait_for()
    expect(page).to_have_url(re.compile(r"/customers/\?q=ROSA\.SILVA%40example\.com$"))
    box.fill("nobody@nowhere.example")
    page.get_by_text("No customer matches").wait_for()
    page.go_back()
    expect(page.get_by_label("Find a customer")).to_have_value("ROSA.SILVA@example.com")
    page.get_by_text("exact email").wait_for()
