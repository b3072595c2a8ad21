"""From a stored event through identity resolution to membership and consent, in one pass."""

import pytest

from compliance.models import ConsentRecord
from profiles.identity import events_resolve_pending
from profiles.models import Profile
from segments.models import Segment, SegmentMembership
from tests.factories import EventFactory


@pytest.mark.django_db(transaction=True)
def test_resolved_event_updates_membership_and_consent(marketer):
    consenting_buyers = Segment.objects.create(
        name="Consenting buyers",
        owner=marketer,
        definition={
            "match": "all",
            "conditions": [
                {"type": "event", "event": "Order Completed"},
                {"type": "consent", "purpose": "email_marketing"},
            ],
        },
    )
    EventFactory(
        user_id="u-1",
        event="Order Completed",
        context={"consent": {"categoryPreferences": {"email_marketing": True, "marketing": False}}},
    )
    events_resolve_pending()
    profile = Profile.objects.get()
    assert set(ConsentRecord.objects.values_list("purpose__key", "granted")) == {
        ("email_marketing", True),
        ("marketing", False),
    }
    assert list(
        SegmentMembership.objects.filter(
            segment=consenting_buyers, exited_at__isnull=True
        ).values_list("profile_id", flat=True)
    ) == [profile.pk]
