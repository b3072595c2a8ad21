"""The customer 360 fragments: the profile's segments with "why?", and its consent."""

import datetime as dt

import pytest
from django.utils import timezone

from compliance.models import AuditEvent, ConsentPurpose, ConsentRecord
from profiles.models import Profile
from segments.models import Segment, SegmentMembership
from segments.services import segment_refresh

DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}


@pytest.fixture
def member(marketer):
    profile = Profile.objects.create(traits={"country": "DE", "email": "jane@example.com"})
    segment = Segment.objects.create(name="Germany", definition=DE, owner=marketer)
    segment_refresh(segment_id=segment.pk)
    return profile, segment


@pytest.mark.parametrize(
    "persona", ["marketer", "support_agent", "compliance_officer", "superuser"]
)
def test_profile_segments_fragment_lists_segment_with_reason(persona, request, client_for, member):
    profile, _segment = member
    response = client_for(request.getfixturevalue(persona)).get(
        f"/segments/profile/{profile.pk}/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Germany" in body
    assert "country is DE" in body
    assert "✓" in body


def test_profile_segments_fragment_denied_to_integration_admin(
    integration_admin, client_for, member
):
    profile, _segment = member
    response = client_for(integration_admin).get(f"/segments/profile/{profile.pk}/")
    assert response.status_code == 403


def test_profile_segments_fragment_404_for_missing_or_merged(marketer, client_for, member):
    profile, _segment = member
    loser = Profile.objects.create(traits={}, merged_into=profile)
    client = client_for(marketer)
    assert client.get(f"/segments/profile/{loser.pk}/").status_code == 404
    assert client.get("/segments/profile/999999/").status_code == 404


def test_profile_segments_fragment_shows_past_stays(marketer, client_for, member):
    profile, segment = member
    profile.traits = {"country": "FR"}
    profile.save()
    segment_refresh(segment_id=segment.pk)
    assert SegmentMembership.objects.get(profile=profile).exited_at is not None
    body = client_for(marketer).get(f"/segments/profile/{profile.pk}/").content.decode()
    assert "Not in any segment." in body
    assert "Left" in body


def test_consent_fragment_shows_state_and_history_and_audits(support_agent, client_for):
    profile = Profile.objects.create(traits={})
    email = ConsentPurpose.objects.get(key="email_marketing")
    now = timezone.now()
    ConsentRecord.objects.create(
        profile=profile, purpose=email, granted=True, recorded_at=now - dt.timedelta(days=2)
    )
    ConsentRecord.objects.create(profile=profile, purpose=email, granted=False, recorded_at=now)
    response = client_for(support_agent).get(
        f"/compliance/profile/{profile.pk}/consent/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "refused" in body
    assert "2 records" in body
    assert "SMS marketing" in body
    audit = AuditEvent.objects.get()
    assert (audit.action, audit.profile_id) == ("consent.view", profile.pk)


def test_consent_fragment_404_for_merged_profile_and_403_for_integration_admin(
    support_agent, integration_admin, client_for
):
    winner = Profile.objects.create(traits={})
    loser = Profile.objects.create(traits={}, merged_into=winner)
    assert (
        client_for(support_agent).get(f"/compliance/profile/{loser.pk}/consent/").status_code == 404
    )
    assert (
        client_for(integration_admin).get(f"/compliance/profile/{winner.pk}/consent/").status_code
        == 403
    )
    assert AuditEvent.objects.count() == 0
