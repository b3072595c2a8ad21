"""A marketer asks a funnel in a real browser, clicks the step where people drop out, and lands
on the segment of those people; the home dashboard draws its panels' charts."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from profiles.dashboard import dashboard_refresh
from profiles.models import Event, Profile
from segments.models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=20_000)


def _shoppers():
    day = timezone.now() - dt.timedelta(days=1)
    rows = []
    for i in range(5):
        person = Profile.objects.create(first_seen=day)
        steps = ["Product Viewed", "Product Added", "Order Completed"][: 1 + i % 3]
        for k, name in enumerate(steps):
            at = day + dt.timedelta(minutes=5 * k)
            rows.append(
                Event(
                    source_id=1, message_id=f"b-{i}-{k}", type="track", event=name,
                    timestamp=at, received_at=at, profile=person,
                )
            )  # fmt: skip
    Event.objects.bulk_create(rows)


def test_marketer_clicks_a_funnel_step_and_gets_the_segment_of_who_dropped_out(marketer, login):
    _shoppers()
    page = login(marketer)
    page.goto("/journeys/funnel/")
    page.locator("#event-1").fill("Product Viewed")
    page.locator("#event-2").fill("Product Added")
    page.locator("#event-3").fill("Order Completed")
    page.get_by_role("button", name="Show funnel").click()
    chart = page.locator("#funnel-chart .funnellayer .point")
    expect(chart.first).to_be_visible()
    # Five entered, three added to the cart: the first step's bar leads to its drop-out.
    chart.first.click(force=True)
    page.wait_for_url("**/segments/*/")
    segment = Segment.objects.get()
    assert segment.name.startswith("Dropped before Product Added")
    expect(page.get_by_role("heading", name=segment.name)).to_be_visible()


def test_home_dashboard_draws_the_customers_panel(marketer, login):
    _shoppers()
    dashboard_refresh()
    page = login(marketer)
    expect(page.locator("#events-per-day .main-svg").first).to_be_visible()
    expect(page.get_by_text("events in the last 7 days")).to_be_visible()
