"""The compliance officer's main journey in a real browser: an erasure request from received
to completed, and its report."""

import pytest
from playwright.sync_api import expect

from compliance.models import DataSubjectRequest
from profiles.models import Profile
from tests.compliance.scene import JANE_EMAIL, scene_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_officer_takes_an_erasure_from_received_to_completed(compliance_officer, login):
    scene = scene_build()
    page = login(compliance_officer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    page.get_by_role("link", name="Log a request").click()
    page.get_by_label("Type").select_option("erasure")
    page.get_by_label("Channel").select_option("email")
    page.get_by_label("E-mail").fill(JANE_EMAIL)
    page.get_by_role("button", name="Log the request").click()

    expect(page.locator("#request-status")).to_have_text("Received")
    # Whom it is about, before anything runs: both of Jane's profiles.
    expect(page.get_by_role("link", name=f"Profile {scene['jane'].pk}")).to_be_visible()
    page.get_by_label("How the identity was verified").fill("Reply from the address on file")
    page.get_by_role("button", name="Verify identity").click()
    expect(page.locator("#request-status")).to_have_text("Identity verified")

    page.get_by_role("button", name="Run the erasure").click()
    expect(page.locator("#request-done")).to_be_visible(timeout=30_000)
    expect(page.locator("#request-status")).to_have_text("Completed")
    page.get_by_role("link", name="Read the report").click()
    expect(page.locator("#residual-result")).to_have_text("Nothing found.")
    expect(page.locator("#report-stores")).to_contain_text("Events")

    request = DataSubjectRequest.objects.get()
    assert request.status == "completed"
    assert not Profile.objects.filter(pk=scene["jane"].pk).exists()
    assert Profile.objects.filter(pk=scene["mary"].pk).exists()
