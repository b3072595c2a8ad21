"""A marketer who does not know the data, in a real browser: the builder on a phone, and the
first hour on fresh demo data ("ordered at least twice in the last 90 days in country US")."""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from profiles.catalogue.scan import catalogue_refresh
from profiles.models import Profile
from segments.models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=20_000)
PHONE = {"width": 390, "height": 844}


def _field(page, path: str, name: str):
    return page.locator(f'[id="f-{path}-{name}"]')


def _settle(page):
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def _type(page, path: str, name: str, value: str) -> None:
    """Type a value as a person would, and again if the builder's re-render (a debounced htmx
    request that may start after `_settle` looked) replaced it before it was sent."""
    for _ in range(4):
        field = _field(page, path, name)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
            field.press("Tab")
        page.wait_for_timeout(500)
        _settle(page)
        if _field(page, path, name).input_value() == value:
            return


def _click(page, value: str):
    page.locator(f'button[value="{value}"]').click()
    _settle(page)


def _overflow(page) -> list[str]:
    """The elements reaching past the right edge of the window, and the page's own width."""
    return page.evaluate(
        """() => {
            const width = window.innerWidth;
            const wide = Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > width + 1)
                .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
            if (document.documentElement.scrollWidth > width) {
                wide.unshift('page ' + document.documentElement.scrollWidth + 'px');
            }
            return wide;
        }"""
    )


def test_builder_is_usable_on_a_phone(marketer, login, page):
    Profile.objects.create(traits={"plan": "pro", "address": {"country": "US"}})
    Profile.objects.create(traits={"plan": "free"})
    # A long unbroken name in the segment picker, a long key in a trait field.
    Segment.objects.create(
        name="Z" * 200, definition={"match": "all", "conditions": []}, owner=marketer
    )
    catalogue_refresh()
    page.set_viewport_size(PHONE)
    login(marketer)
    page.goto("/segments/new/")
    count = page.locator("#preview-count")
    expect(count).to_have_attribute("data-count", "2")

    _click(page, "add-trait:r")
    expect(_field(page, "r.0", "trait")).to_be_visible()
    _field(page, "r.0", "trait").fill("plan")
    _field(page, "r.0", "trait").press("Tab")
    _settle(page)
    _field(page, "r.0", "value").fill("pro")
    expect(count).to_have_attribute("data-count", "1")
    _click(page, "add-event:r")
    _click(page, "add-where:r.1")
    _click(page, "add-group:r")
    _click(page, "add-segment:r.2")
    _click(page, "add-trait:r.2")
    _field(page, "r.2.1", "trait").fill("a_rather_long_trait_key_" * 6)
    _field(page, "r.2.1", "trait").press("Tab")
    _settle(page)
    assert page.locator(".condition").count() == 4
    assert _overflow(page) == []
    # Every control of the last condition can be reached and used on the phone's width.
    for name in ("trait", "operator", "value"):
        box = _field(page, "r.2.1", name).bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]


def test_marketers_first_hour_on_fresh_demo_data(marketer, login, page):
    call_command("generate_data", profiles=120, seed=1, stdout=io.StringIO())
    catalogue_refresh()
    login(marketer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    count = page.locator("#preview-count")
    expect(count).to_have_attribute("data-count", "120")

    # Ordered at least twice in the last 90 days: the event is offered by the catalogue.
    _click(page, "add-event:r")
    offered = page.locator("#event-names option").evaluate_all("els => els.map(e => e.value)")
    assert "Order Completed" in offered
    _type(page, "r.0", "event", "Order Completed")
    _type(page, "r.0", "count", "2")
    _type(page, "r.0", "window", "last_days")
    _type(page, "r.0", "days", "90")
    # Every value stayed: the count below is that of the whole condition.
    assert _field(page, "r.0", "event").input_value() == "Order Completed"
    assert _field(page, "r.0", "count").input_value() == "2"
    expect(count).not_to_have_attribute("data-count", "120")
    expect(count).not_to_have_attribute("data-count", "0")
    repeat_buyers = int(count.get_attribute("data-count"))

    # ...in country US: the country the customer's page shows sits in the address. Both the
    # nested key and its value are taken from the builder's suggestions.
    _click(page, "add-trait:r")
    keys = page.locator("#trait-keys option").evaluate_all("els => els.map(e => e.value)")
    assert "address.country" in keys
    _type(page, "r.1", "trait", "address.country")
    values = page.locator('[id="v-r.1"] option').evaluate_all("els => els.map(e => e.value)")
    assert "US" in values
    _type(page, "r.1", "value", "US")
    expect(page.locator("#preview-share")).to_contain_text("of 120 profiles")
    # Every demo customer lives in the US, so the count is the repeat buyers' again.
    expect(count).to_have_attribute("data-count", str(repeat_buyers))
    assert repeat_buyers > 0

    page.get_by_label("Name").fill("Repeat buyers in the US")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Repeat buyers in the US")
    segment = Segment.objects.get(name="Repeat buyers in the US")
    assert segment.member_count == repeat_buyers
    expect(page.locator("#segment-status .big-number")).to_have_text(str(repeat_buyers))
    expect(page.locator("#members tbody tr")).to_have_count(min(repeat_buyers, 25))
