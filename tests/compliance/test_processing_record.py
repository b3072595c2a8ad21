"""The record of processing (GDPR Art. 30): generated from the live sources, purposes,
retention periods and roles; printable, and downloadable as Markdown and CSV."""

import csv
import io

import pytest

from compliance.models import ConsentPurpose, RetentionPolicy
from compliance.processing_record import data_categories, processing_record
from integrations.selectors import processing_destinations, processing_sources
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    web = SourceFactory(name="Web shop")
    EventFactory(
        source=web,
        type="identify",
        event="",
        traits={"email": "ann@example.com", "firstName": "Ann", "favourite_colour": "red"},
    )
    EventFactory(source=web, event="Order Completed", context={"traits": {"city": "Berlin"}})
    EventFactory(source=web, type="page", event="", traits="not an object")
    return web


def test_sources_show_what_they_collect_but_never_the_values(web):
    SourceFactory(name="CRM", kind="hubspot_contacts")
    sources = {s["name"]: s for s in processing_sources()}
    shop = sources["Web shop"]
    assert shop["kind_label"] == "Tracking API"
    assert shop["message_types"] == ["identify", "page", "track"]
    assert shop["event_names"] == ["Order Completed"]
    assert shop["trait_keys"] == ["city", "email", "favourite_colour", "firstName"]
    categories = data_categories(shop)
    for category in ("Contact details", "Name", "Location", "Behaviour (tracked events)"):
        assert category in categories
    assert "Other profile traits" in categories
    crm = sources["CRM"]
    assert crm["kind_label"] == "CRM contacts (HubSpot)"
    assert crm["description"]
    assert crm["trait_keys"] == []


def test_no_destination_means_no_recipients():
    assert processing_destinations() == []


def test_record_holds_purposes_retention_and_roles(web):
    ConsentPurpose.objects.filter(key="analytics").update(legal_basis="legitimate_interests")
    RetentionPolicy.objects.create(source_id=None, days=365)
    RetentionPolicy.objects.create(source_id=web.pk, days=30)
    record = processing_record()
    shop = next(s for s in record["sources"] if s["name"] == "Web shop")
    assert shop["retention_days"] == 30
    assert record["retention"]["default"] == 365
    analytics = next(p for p in record["purposes"] if p["name"] == "Analytics")
    assert analytics["legal_basis"] == "Legitimate interests (Art. 6(1)(f))"
    roles = {r["role"]: r for r in record["roles"]}
    assert roles["Marketer"]["personal_data"] == "Masked"
    assert roles["Support agent"]["personal_data"] == "Unmasked"
    assert roles["Integration admin"]["personal_data"].startswith("None")
    assert "Can view audit event" in roles["Compliance officer"]["may"]


def test_page_and_downloads(compliance_officer, client_for, web):
    client = client_for(compliance_officer)
    html = client.get("/compliance/processing-record/").content.decode()
    assert "Web shop" in html
    assert 'id="no-destinations"' in html
    assert "ann@example.com" not in html
    assert 'href="/compliance/processing-record.md"' in html
    markdown = client.get("/compliance/processing-record.md")
    assert markdown["Content-Type"].startswith("text/markdown")
    assert "attachment" in markdown["Content-Disposition"]
    text = markdown.content.decode()
    assert text.startswith("# Record of processing activities (GDPR Art. 30)")
    assert "| Web shop | Tracking API |" in text
    assert "No destinations are configured" in text
    assert "ann@example.com" not in text
    rows = list(csv.reader(io.StringIO(client.get("/compliance/processing-record.csv").text)))
    assert rows[0] == ["section", "name", "kind_or_basis", "detail", "retention"]
    assert rows[[r[1] for r in rows].index("E-mail marketing")][:2] == [
        "purpose",
        "E-mail marketing",
    ]
    assert client.get("/compliance/processing-record.pdf").status_code == 404


def test_csv_cells_never_become_formulas(compliance_officer, client_for):
    SourceFactory(name="=HYPERLINK(1)")
    text = client_for(compliance_officer).get("/compliance/processing-record.csv").text
    assert "'=HYPERLINK(1)" in text


def test_empty_configuration(compliance_officer, client_for):
    ConsentPurpose.objects.all().delete()
    html = client_for(compliance_officer).get("/compliance/processing-record/").content.decode()
    assert "No sources are configured" in html
    assert "No consent purposes are defined" in html


@pytest.mark.parametrize("role", ["marketer", "support_agent", "integration_admin"])
def test_other_roles_are_refused(role, request, client_for):
    client = client_for(request.getfixturevalue(role))
    assert client.get("/compliance/processing-record/").status_code == 403
    assert client.get("/compliance/processing-record.csv").status_code == 403


def test_destinations_list_their_purposes_and_audiences(compliance_officer, client_for):
    from integrations.models import AudienceSync, Destination
    from segments.models import Segment

    ads = Destination.objects.create(name="Ads", kind="meta_audience")
    germany = Segment.objects.create(name="Germany", definition={"all": []})
    AudienceSync.objects.create(segment=germany, destination=ads, consent_purpose="advertising")
    [row] = processing_destinations()
    assert (row["name"], row["purpose"], row["audiences"]) == ("Ads", "advertising", ["Germany"])
    html = client_for(compliance_officer).get("/compliance/processing-record/").content.decode()
    assert 'id="no-destinations"' not in html
    assert "Germany" in html
