"""Consent recorded by hand by a compliance officer: from the customer 360's consent card and
through the API, with the evidence and a note, audited; refused to other roles."""

import pytest

from compliance.models import AuditEvent, ConsentPurpose, ConsentRecord
from profiles.models import Profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    return Profile.objects.create(traits={"email": "jo@example.com"})


@pytest.fixture
def purpose():
    return ConsentPurpose.objects.get_or_create(key="email_marketing", defaults={"name": "E-mail"})[
        0
    ]


def test_officer_records_a_withdrawal_from_the_consent_card(
    compliance_officer, client_for, profile, purpose
):
    response = client_for(compliance_officer).post(
        f"/compliance/profile/{profile.pk}/consent/record/",
        {"purpose": purpose.key, "granted": "no", "evidence": "call", "note": "Called on Monday"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    record = ConsentRecord.objects.get()
    assert (record.profile_id, record.purpose_id, record.granted) == (profile.pk, purpose.pk, False)
    assert record.evidence == {
        "by_hand": True,
        "kind": "call",
        "note": "Called on Monday",
        "recorded_by": compliance_officer.username,
    }
    assert b"by hand (call" in response.content
    assert AuditEvent.objects.filter(action="consent.record", profile_id=profile.pk).count() == 1


def test_a_bad_choice_is_shown_in_place(compliance_officer, client_for, profile, purpose):
    response = client_for(compliance_officer).post(
        f"/compliance/profile/{profile.pk}/consent/record/",
        {"purpose": "nope", "granted": "yes", "evidence": "call"},
    )
    assert response.status_code == 200
    assert b"No consent purpose has that key" in response.content
    assert not ConsentRecord.objects.exists()


def test_api_records_consent(compliance_officer, client_for, profile, purpose):
    response = client_for(compliance_officer).post(
        f"/api/compliance/profiles/{profile.pk}/consent/",
        {"purpose": purpose.key, "granted": True, "evidence": "signed_form"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert ConsentRecord.objects.get().granted is True
    bad = client_for(compliance_officer).post(
        f"/api/compliance/profiles/{profile.pk}/consent/",
        {"purpose": purpose.key, "granted": True, "evidence": "rumour"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["field"] == "evidence"


@pytest.mark.parametrize("role", ["marketer", "support_agent", "integration_admin"])
def test_other_roles_cannot_record_consent(role, request, client_for, profile, purpose):
    client = client_for(request.getfixturevalue(role))
    body = {"purpose": purpose.key, "granted": "yes", "evidence": "call"}
    assert client.post(f"/compliance/profile/{profile.pk}/consent/record/", body).status_code == 403
    api = client.post(
        f"/api/compliance/profiles/{profile.pk}/consent/", body, content_type="application/json"
    )
    assert api.status_code == 403
    assert not ConsentRecord.objects.exists()
    page = client.get(f"/compliance/profile/{profile.pk}/consent/")
    assert b"consent-record" not in page.content
