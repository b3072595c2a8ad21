"""The data catalogue page (compliance officers confirm or change classes, audited) and the
builder's suggestions drawn from the catalogue."""

import pytest
from django.utils import timezone

from compliance.models import AuditEvent
from profiles.models import DataField

pytestmark = pytest.mark.django_db


def _field(path, classification="unknown", kind="trait", event="", values=()):
    now = timezone.now()
    return DataField.objects.create(
        kind=kind,
        event=event,
        path=path,
        classification=classification,
        evidence=["the key says so"],
        common_values=[list(pair) for pair in values],
        first_seen_at=now,
        refreshed_at=now,
    )


def test_the_page_lists_fields_with_class_and_how_classified(compliance_officer, client_for):
    _field("surname", "personal")
    _field("plan", "not_personal")
    _field("page.url", "unknown", kind="context")
    response = client_for(compliance_officer).get("/data-catalogue/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "surname" in text
    assert "plan" in text
    assert "context.page.url" in text
    assert "Automatically: the key says so" in text


def test_filter_by_class_and_search(compliance_officer, client_for):
    _field("surname", "personal")
    _field("plan", "not_personal")
    _field("address.country", "not_personal")
    client = client_for(compliance_officer)
    text = client.get("/data-catalogue/", {"class": "not_personal"}).content.decode()
    assert "plan" in text
    assert "address.country" in text
    assert "surname" not in text
    fragment = client.get("/data-catalogue/", {"q": "country"}, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert "address.country" in body
    assert "plan" not in body
    assert "<h1>" not in body  # only the list
    empty = client.get("/data-catalogue/", {"q": "nothing-like-this"}).content.decode()
    assert "No field matches these filters." in empty


def test_the_list_is_paginated(compliance_officer, client_for):
    for i in range(60):
        _field(f"field_{i:02d}")
    client = client_for(compliance_officer)
    first = client.get("/data-catalogue/").content.decode()
    assert "Page 1 of 2 (60 fields)" in first
    second = client.get("/data-catalogue/", {"page": "2"}).content.decode()
    assert "field_59" in second
    assert "field_00" not in second
    # Odd page numbers are no error.
    assert client.get("/data-catalogue/", {"page": "9999"}).status_code == 200
    assert client.get("/data-catalogue/", {"page": "x"}).status_code == 200


def test_confirming_a_class_records_who_and_when_and_is_audited(compliance_officer, client_for):
    field = _field("nickname_x", "unknown")
    response = client_for(compliance_officer).post(
        f"/data-catalogue/{field.pk}/classify/",
        {"classification": "personal", "q": "nick", "page": "1"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/data-catalogue/?q=nick&page=1"
    field.refresh_from_db()
    assert field.classification == "personal"
    assert field.classified_by == "person"
    assert field.confirmed_by == compliance_officer
    assert field.confirmed_at is not None
    audit = AuditEvent.objects.get(action="data_field.classify")
    assert audit.user == compliance_officer
    assert audit.detail["from"] == "unknown"
    assert audit.detail["to"] == "personal"


def test_a_field_made_personal_loses_its_common_values(compliance_officer, client_for):
    field = _field("plan", "not_personal", values=[("pro", 5)])
    client_for(compliance_officer).post(
        f"/data-catalogue/{field.pk}/classify/", {"classification": "sensitive"}
    )
    field.refresh_from_db()
    assert (field.classification, field.common_values) == ("sensitive", [])


@pytest.mark.parametrize("value", ["", "unknown", "bogus"])
def test_a_bad_class_changes_nothing(compliance_officer, client_for, value):
    field = _field("plan", "not_personal")
    response = client_for(compliance_officer).post(
        f"/data-catalogue/{field.pk}/classify/", {"classification": value}, follow=True
    )
    assert "Choose sensitive, personal or not personal." in response.content.decode()
    field.refresh_from_db()
    assert (field.classification, field.classified_by) == ("not_personal", "automatic")
    assert not AuditEvent.objects.filter(action="data_field.classify").exists()


def test_a_missing_field_is_404(compliance_officer, client_for):
    response = client_for(compliance_officer).post(
        "/data-catalogue/999999/classify/", {"classification": "personal"}
    )
    assert response.status_code == 404


def test_a_marketer_cannot_change_a_class(marketer, client_for):
    field = _field("surname", "personal")
    response = client_for(marketer).post(
        f"/data-catalogue/{field.pk}/classify/", {"classification": "not_personal"}
    )
    assert response.status_code == 403
    field.refresh_from_db()
    assert field.classification == "personal"


def test_value_suggestions_only_of_fields_not_personal_for_marketers(
    marketer, superuser, client_for
):
    _field("plan", "not_personal", values=[("pro", 9), ("free", 4)])
    _field("total", "not_personal", kind="property", event="Order Completed", values=[("9", 3)])
    # Values of a personal field (a person changed its class since): never to a marketer.
    _field("surname", "personal", values=[("Smith", 3)])
    client = client_for(marketer)
    plan = client.get("/segments/fields/values/", {"kind": "trait", "path": "plan"}).json()
    assert plan["values"] == [{"value": "pro", "count": 9}, {"value": "free", "count": 4}]
    total = client.get(
        "/segments/fields/values/",
        {"kind": "property", "path": "total", "event": "Order Completed"},
    ).json()
    assert total["values"] == [{"value": "9", "count": 3}]
    surname = client.get("/segments/fields/values/", {"kind": "trait", "path": "surname"})
    assert surname.json()["values"] == []
    unknown = client.get("/segments/fields/values/", {"kind": "trait", "path": "nope"})
    assert unknown.json()["values"] == []
    bad = client.get("/segments/fields/values/", {"kind": "context", "path": "page.url"})
    assert bad.status_code == 400
    full = client_for(superuser).get(
        "/segments/fields/values/", {"kind": "trait", "path": "surname"}
    )
    assert full.json()["values"] == [{"value": "Smith", "count": 3}]


def test_the_builder_offers_nested_paths_and_common_values(marketer, client_for):
    _field("address.country", "not_personal", values=[("US", 7), ("DE", 3)])
    _field("surname", "personal", values=[("Smith", 3)])
    definition = {
        "match": "all",
        "conditions": [
            {"type": "trait", "trait": "address.country", "operator": "equals", "value": ""},
            {"type": "trait", "trait": "surname", "operator": "equals", "value": ""},
        ],
    }
    from segments.models import Segment

    segment = Segment.objects.create(name="Nested", definition=definition, owner=marketer)
    text = client_for(marketer).get(f"/segments/{segment.pk}/edit/").content.decode()
    assert '<option value="address.country">' in text
    assert 'list="v-r.0"' in text
    assert '<datalist id="v-r.0"><option value="US"></option><option value="DE"></option>' in text
    assert "Smith" not in text
