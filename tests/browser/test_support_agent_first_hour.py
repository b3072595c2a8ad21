"""A support agent's first hour on a fresh demo, in a real browser: finds a customer by a part of
their e-mail, reads the customer 360, and undoes a merge after reading what it will do."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from profiles.models import Identity, ProfileMerge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo():
    call_command("generate_data", profiles=60, seed=1, stdout=io.StringIO())


def test_support_agent_finds_reads_and_undoes_a_merge(demo, support_agent, login, page):
    page.set_default_timeout(30_000)
    merge = ProfileMerge.objects.filter(undone_at__isnull=True).order_by("pk").first()
    assert merge is not None, "the demo data has merges to undo"
    email = Identity.objects.filter(profile_id=merge.winner_id, kind="email").first().value
    part = email.split("@")[0][2:8]  # from inside the local part, as a caller spells it
    page.set_viewport_size({"width": 1440, "height": 900})
    login(support_agent)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.get_by_label("Find a customer").fill(part)
    result = page.locator(".search-results").get_by_role(
        "link", name=f"#{merge.winner_id}", exact=True
    )
    result.click()
    expect(page).to_have_url(re.compile(rf"/customers/{merge.winner_id}/$"))
    expect(page.get_by_role("heading", level=1)).not_to_contain_text(f"Profile {merge.winner_id}")
    expect(page.locator(".profile-header")).to_contain_text(email, ignore_case=True)

    history = page.locator("section", has=page.get_by_role("heading", name="Merge history"))
    undo = history.locator(f'a[href="/customers/merges/{merge.pk}/undo/"]')
    expect(undo).to_have_text("Undo merge…")
    undo.click()
    expect(page.get_by_role("heading", name="Undo this merge?")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        f"bring profile #{merge.loser_id} back as a separate customer"
    )
    expect(page.locator("main")).to_contain_text("This cannot be reversed from here.")
    merge.refresh_from_db()
    assert not merge.undone  # reading the confirmation changes nothing

    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"/customers/{merge.winner_id}/$"))
    merge.refresh_from_db()
    assert not merge.undone

    undo.click()
    page.get_by_role("button", name="Yes, undo the merge").click()
    expect(page.locator(".messages")).to_contain_text("Merge undone")
    merge.refresh_from_db()
    assert merge.undone
    expect(history).to_contain_text("undone")
    # The profile that came back is named from its traits, not "Profile N".
    page.goto(f"/customers/{merge.loser_id}/")
    expect(page.get_by_role("heading", level=1)).not_to_contain_text(f"Profile {merge.loser_id}")
