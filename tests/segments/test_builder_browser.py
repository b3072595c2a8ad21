"""A marketer builds a two-group segment by clicking in a real browser, watching the count."""

import pytest
from playwright.sync_api import expect

from profiles.catalogue.scan import catalogue_refresh
from profiles.models import Profile
from segments.models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The machine running the suite may be busy; counts arrive after a debounce and a query.
expect.set_options(timeout=20_000)


def _field(page, path: str, name: str):
    return page.locator(f'[id="f-{path}-{name}"]')


def _settle(page):
    """Wait until htmx has no request in flight (a redraw replaces the inputs)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def _choose(page, path: str, trait: str):
    """Type a trait key and leave the field; the builder redraws with that trait's operators."""
    _field(page, path, "trait").fill(trait)
    _field(page, path, "trait").press("Tab")
    expect(page.locator(f'[id="f-{path}-trait"] + .badge')).to_be_visible()
    _settle(page)


def test_marketer_builds_two_group_segment_and_sees_count_change(marketer, login):
    for country, ltv, plan in [
        ("DE", 300, "pro"),
        ("DE", 50, "free"),
        ("FR", 500, "pro"),
        ("US", 20, "free"),
    ]:
        Profile.objects.create(traits={"country": country, "ltv": ltv, "plan": plan})
    catalogue_refresh()
    page = login(marketer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    count = page.locator("#preview-count")
    expect(count).to_have_attribute("data-count", "4")

    # Group 1: country is DE, or plan is pro.
    page.locator('button[value="add-group:r"]').click()
    _settle(page)
    page.locator('button[value="add-trait:r.0"]').click()
    _settle(page)
    _choose(page, "r.0.0", "country")
    _field(page, "r.0.0", "value").fill("de")
    expect(count).to_have_attribute("data-count", "2")
    page.locator('button[value="add-trait:r.0"]').click()
    _settle(page)
    _choose(page, "r.0.1", "plan")
    _field(page, "r.0.1", "value").fill("pro")
    # A new group matches any of its conditions.
    expect(count).to_have_attribute("data-count", "3")
    _field(page, "r.0", "match").select_option("all")
    expect(count).to_have_attribute("data-count", "1")
    _field(page, "r.0", "match").select_option("any")
    expect(count).to_have_attribute("data-count", "3")

    # Group 2: ltv > 100.
    page.locator('button[value="add-group:r"]').click()
    _settle(page)
    page.locator('button[value="add-trait:r.1"]').click()
    _settle(page)
    _choose(page, "r.1.0", "ltv")
    _field(page, "r.1.0", "operator").select_option("greater_than")
    _settle(page)
    expect(_field(page, "r.1.0", "value")).to_have_attribute("type", "number")
    _field(page, "r.1.0", "value").fill("100")
    expect(count).to_have_attribute("data-count", "2")

    page.get_by_label("Name").fill("Valuable Germans or pros")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Valuable Germans or pros")
    segment = Segment.objects.get()
    assert [c["match"] for c in segment.definition["conditions"]] == ["any", "any"]
    assert segment.member_count == 2


def test_typing_while_the_builder_redraws_is_kept(marketer, login):
    """What is typed while a field change is redrawing the builder survives the redraw."""
    Profile.objects.create(traits={"country": "DE"})
    catalogue_refresh()
    page = login(marketer)
    page.goto("/segments/new/")
    page.locator('button[value="add-trait:r"]').click()
    _settle(page)
    _choose(page, "r.0", "country")

    # Hold the redraw the operator change asks for, type meanwhile, then let it through.
    held = []
    page.route("**/segments/new/", lambda route: held.append(route))
    _field(page, "r.0", "operator").select_option("not_equals")
    page.wait_for_function("() => document.querySelector('.htmx-request') !== null")
    name = page.get_by_label("Name")
    name.click()
    name.press_sequentially("Outside Germany")
    assert held, "the redraw request was not sent"
    held[0].continue_()
    page.unroute("**/segments/new/")
    _settle(page)

    expect(_field(page, "r.0", "operator")).to_have_value("not_equals")
    expect(page.get_by_label("Name")).to_have_value("Outside Germany")
    expect(page.get_by_label("Name")).to_be_focused()
