"""Consent purposes managed on a page (create, edit, the key fixed once used, each change
audited) and the consent overview's counts and weekly trend, on PostgreSQL."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from compliance.consent_overview import consent_overview, consent_trend
from compliance.models import AuditEvent, ConsentPurpose, ConsentRecord
from profiles.models import Profile

pytestmark = pytest.mark.django_db

OTHER_ROLES = ("marketer", "support_agent", "integration_admin")


def _record(profile, purpose, granted, at):
    return ConsentRecord.objects.create(
        profile=profile, purpose=purpose, granted=granted, recorded_at=at
    )


def test_officer_creates_a_purpose_with_its_legal_basis(compliance_officer, client_for):
    response = client_for(compliance_officer).post(
        "/compliance/consent/purposes/",
        {
            "key": "loyalty",
            "name": "Loyalty programme",
            "description": "Points",
            "legal_basis": "contract",
        },
    )
    assert response.status_code == 302
    purpose = ConsentPurpose.objects.get(key="loyalty")
    assert (purpose.name, purpose.legal_basis) == ("Loyalty programme", "contract")
    audit = AuditEvent.objects.get(action="consent_purpose.create")
    assert audit.username == compliance_officer.username
    assert audit.detail["key"] == "loyalty"
    page = client_for(compliance_officer).get("/compliance/consent/purposes/").content.decode()
    assert "Loyalty programme" in page
    assert "Contract (Art. 6(1)(b))" in page


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"key": "email_marketing", "name": "Again"}, "already exists"),
        ({"key": "Email Marketing!", "name": "X"}, "lower-case letters"),
        ({"key": "ok", "name": "   "}, "This field is required"),
        ({"key": "ok2", "name": "X", "legal_basis": "whim"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_told_clearly_and_nothing_is_saved(
    compliance_officer, client_for, values, message
):
    values = {"description": "", "legal_basis": "consent", **values}
    before = ConsentPurpose.objects.count()
    response = client_for(compliance_officer).post("/compliance/consent/purposes/", values)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert ConsentPurpose.objects.count() == before
    assert not AuditEvent.objects.filter(action="consent_purpose.create").exists()


def test_edit_changes_fields_and_audits_old_and_new(compliance_officer, client_for):
    purpose = ConsentPurpose.objects.create(key="survey", name="Surveys")
    response = client_for(compliance_officer).post(
        "/compliance/consent/purposes/survey/",
        {
            "key": "surveys",
            "name": "Surveys",
            "description": "Asking",
            "legal_basis": "legitimate_interests",
        },
    )
    assert response.status_code == 302
    purpose.refresh_from_db()
    assert (purpose.key, purpose.legal_basis) == ("surveys", "legitimate_interests")
    audit = AuditEvent.objects.get(action="consent_purpose.change")
    assert audit.detail["changes"]["key"] == ["survey", "surveys"]
    assert audit.detail["changes"]["legal_basis"] == ["consent", "legitimate_interests"]
    assert "name" not in audit.detail["changes"]


def test_the_key_is_fixed_once_records_use_it(compliance_officer, client_for):
    purpose = ConsentPurpose.objects.get(key="email_marketing")
    _record(Profile.objects.create(), purpose, True, timezone.now())
    client = client_for(compliance_officer)
    page = client.get("/compliance/consent/purposes/email_marketing/").content.decode()
    assert 'id="key-fixed"' in page
    response = client.post(
        "/compliance/consent/purposes/email_marketing/",
        {"key": "mail", "name": "Mail", "description": "", "legal_basis": "consent"},
    )
    assert response.status_code == 302  # the disabled key keeps its value; the name changes
    purpose.refresh_from_db()
    assert (purpose.key, purpose.name) == ("email_marketing", "Mail")


def test_the_service_refuses_a_changed_key_in_use(compliance_officer):
    from cdp_site.errors import InvalidInputError
    from compliance.purposes import purpose_update

    purpose = ConsentPurpose.objects.get(key="analytics")
    _record(Profile.objects.create(), purpose, True, timezone.now())
    with pytest.raises(InvalidInputError, match="cannot change"):
        purpose_update(
            user=compliance_officer,
            purpose=purpose,
            key="stats",
            name="Stats",
            description="",
            legal_basis="consent",
        )
    assert not AuditEvent.objects.filter(action="consent_purpose.change").exists()


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_change_nothing(role, request, client_for):
    user = request.getfixturevalue(role)
    client = client_for(user)
    new = {"key": "x1", "name": "X", "description": "", "legal_basis": "consent"}
    assert client.post("/compliance/consent/purposes/", new).status_code == 403
    edit = {**new, "key": "email_marketing"}
    assert client.post("/compliance/consent/purposes/email_marketing/", edit).status_code == 403
    assert not ConsentPurpose.objects.filter(key="x1").exists()
    assert ConsentPurpose.objects.get(key="email_marketing").name == "E-mail marketing"
    assert not AuditEvent.objects.filter(action__startswith="consent_purpose.").exists()


def test_overview_counts_the_choice_in_force_per_live_profile():
    mail = ConsentPurpose.objects.get(key="email_marketing")
    now = timezone.now()
    granted, withdrew, silent = (Profile.objects.create() for _ in range(3))
    _record(granted, mail, False, now - dt.timedelta(days=3))
    _record(granted, mail, True, now - dt.timedelta(days=1))
    _record(withdrew, mail, True, now - dt.timedelta(days=3))
    _record(withdrew, mail, False, now - dt.timedelta(days=1))
    # A merged-away profile is counted under its winner, not again.
    loser = Profile.objects.create(merged_into=granted)
    _record(loser, mail, True, now)
    rows = {row["purpose"].key: row for row in consent_overview()["purposes"]}
    assert consent_overview()["profiles"] == 3
    assert (rows["email_marketing"]["granted"], rows["email_marketing"]["withdrawn"]) == (1, 1)
    assert rows["email_marketing"]["unanswered"] == 1
    assert (rows["advertising"]["granted"], rows["advertising"]["unanswered"]) == (0, 3)
    assert silent.pk


def test_trend_counts_grants_and_withdrawals_per_week():
    mail = ConsentPurpose.objects.get(key="email_marketing")
    ads = ConsentPurpose.objects.get(key="advertising")
    profile = Profile.objects.create()
    now = timezone.now()
    _record(profile, mail, True, now)
    _record(profile, mail, False, now)
    _record(profile, ads, True, now - dt.timedelta(weeks=2))
    _record(profile, ads, True, now - dt.timedelta(weeks=60))  # outside the window
    trend = consent_trend()
    assert len(trend["weeks"]) == 26
    assert sum(trend["granted"]) == 2
    assert sum(trend["withdrawn"]) == 1
    assert (trend["granted"][-1], trend["withdrawn"][-1]) == (1, 1)
    only_ads = consent_trend(purpose=ads)
    assert sum(only_ads["granted"]) == 1
    assert sum(only_ads["withdrawn"]) == 0


def test_overview_page_draws_the_trend_with_the_bundled_plotly(compliance_officer, client_for):
    mail = ConsentPurpose.objects.get(key="email_marketing")
    _record(Profile.objects.create(), mail, True, timezone.now())
    html = client_for(compliance_officer).get("/compliance/consent/overview/").content.decode()
    assert 'data-chart="consent-trend-data"' in html
    assert "plotly/plotly.min.js" in html
    assert "cdn" not in html.lower()
    start = html.index('id="consent-trend-data"')
    figure = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert [trace["name"] for trace in figure["data"]] == ["granted", "withdrawn or refused"]
    assert 'data-purpose="email_marketing"' in html


def test_overview_page_empty_state_and_unknown_purpose(compliance_officer, client_for):
    html = (
        client_for(compliance_officer)
        .get("/compliance/consent/overview/?purpose=nope")
        .content.decode()
    )
    assert 'id="consent-trend-empty"' in html
    assert "There is no purpose with that key" in html
    ConsentPurpose.objects.all().delete()
    html = client_for(compliance_officer).get("/compliance/consent/overview/").content.decode()
    assert "No consent purposes yet" in html
    page = client_for(compliance_officer).get("/compliance/consent/purposes/").content.decode()
    assert "No purposes yet" in page
