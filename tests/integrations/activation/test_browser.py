"""The marketer's journey in a real browser: send a segment to a webhook destination shared with
their team, and watch the run finish with its counts."""

import pytest
from playwright.sync_api import expect

from integrations.activation.services import destination_share
from integrations.models import AudienceSync

from .conftest import consent_set, profiles_make, vip_segment, webhook_destination

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketer_sends_a_segment_to_a_webhook_and_sees_the_counts(marketer, login, receiver):
    people = profiles_make(6)
    consent_set([p.pk for p in people[:5]], True)
    segment = vip_segment(owner=marketer)
    destination = webhook_destination(receiver, name="Shop webhook")
    destination_share(destination=destination, group=marketer.groups.get(name="marketer"))

    page = login(marketer)
    page.goto(f"/segments/{segment.pk}/")
    card = page.locator("#segment-syncs")
    expect(card.get_by_role("heading", name="Send to…")).to_be_visible()
    card.get_by_label("Destination").select_option(label="Shop webhook")
    card.get_by_label("Consent purpose").select_option(label="Advertising")
    card.get_by_label("Field mapping").fill(
        "email = identifier:email\nfirst_name = trait:first_name"
    )
    card.get_by_role("button", name="Send").click()

    row = page.locator("tr.sync-row", has_text="Shop webhook")
    expect(row.locator(".run-status")).to_have_text("Succeeded", timeout=15_000)
    expect(row).to_contain_text("5 sent")
    expect(row.locator(".left-out")).to_contain_text("1 left out: 1 no consent for Advertising")
    sync = AudienceSync.objects.get(segment=segment)
    assert receiver.member_ids(sync.audience_key) == {p.pk for p in people[:5]}
