"""A compliance officer finds a field in the data catalogue, in a real browser, and changes its
class; a marketer then sees it masked."""

import pytest
from playwright.sync_api import expect

from profiles.catalogue.scan import catalogue_refresh
from profiles.models import DataField, Profile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=20_000)


def test_compliance_officer_filters_the_catalogue_and_changes_a_class(compliance_officer, login):
    for i in range(4):
        Profile.objects.create(traits={"plan": "pro", "email": f"p{i}@example.com"})
    catalogue_refresh()
    page = login(compliance_officer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Data catalogue").click()
    rows = page.locator("#fields tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Class", exact=True).select_option("not_personal")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("plan")
    rows.first.get_by_role("combobox").select_option("personal")
    rows.first.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("“plan” is now personal.")).to_be_visible()
    field = DataField.objects.get(path="plan")
    assert (field.classification, field.classified_by) == ("personal", "person")
