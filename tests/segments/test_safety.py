"""Segments against odd input and nosy users: private segments stay private, masked data stays
masked, and nothing a person can type breaks a count or the refresh of other segments."""

import json

import pytest
from django.utils import timezone

from cdp_site.roles import Role
from compliance.models import AuditEvent
from profiles.models import DataField, Event, Profile
from segments.models import Segment, SegmentMembership
from segments.services import segment_create, segments_refresh_for_profiles
from segments.views import _csv_cell
from tests.factories import EventFactory, UserFactory
from tests.segments.test_api import DE, api

pytestmark = pytest.mark.django_db


def _trait(operator, value, trait="country"):
    return {
        "match": "all",
        "conditions": [{"type": "trait", "trait": trait, "operator": operator, "value": value}],
    }


@pytest.fixture
def other_marketer(db):
    return UserFactory(username="otto_marketer", roles=[Role.MARKETER])


@pytest.fixture
def secret(other_marketer):
    return segment_create(user=other_marketer, name="Secret targets", definition=DE)


def test_another_marketers_private_segment_cannot_be_referenced(marketer, secret, client_for):
    reference = {"match": "all", "conditions": [{"type": "segment", "segment": secret.pk}]}
    preview = api(marketer).post("/api/segments/preview/", {"definition": reference}, format="json")
    assert preview.status_code == 400
    assert preview.json()["detail"] == f"Segment {secret.pk} does not exist."
    create = api(marketer).post(
        "/api/segments/", {"name": "Mine", "definition": reference}, format="json"
    )
    assert create.status_code == 400
    assert Segment.objects.count() == 1


def test_private_segments_stay_off_a_marketers_view_of_a_customer(
    marketer, support_agent, other_marketer, secret, client_for
):
    profile = Profile.objects.create(traits={"country": "DE"})
    SegmentMembership.objects.create(
        segment=secret, profile=profile, version=1, entered_at=timezone.now()
    )
    for_marketer = client_for(marketer).get(f"/segments/profile/{profile.pk}/").content.decode()
    assert "Secret targets" not in for_marketer
    assert api(marketer).get(f"/api/profiles/{profile.pk}/segments/").json()["results"] == []
    # The owner, and support agents answering the customer, see it.
    assert (
        "Secret targets"
        in client_for(other_marketer).get(f"/segments/profile/{profile.pk}/").content.decode()
    )
    rows = api(support_agent).get(f"/api/profiles/{profile.pk}/segments/").json()["results"]
    assert [r["segment"] for r in rows] == ["Secret targets"]


def test_a_segment_that_cannot_be_computed_is_marked_failed_and_others_still_refresh(marketer):
    profile = Profile.objects.create(traits={"country": "DE", "signup": "2026-01-01"})
    # Saved before today's checks: a date the compiler cannot go past.
    bad = Segment.objects.create(
        name="AAA bad",
        owner=marketer,
        definition=_trait("after", "9999-12-31", trait="signup"),
    )
    good = Segment.objects.create(name="ZZZ good", owner=marketer, definition=DE)
    segments_refresh_for_profiles(profile_ids=[profile.pk], event_names=None)
    assert SegmentMembership.objects.filter(segment=good, profile=profile).exists()
    bad.refresh_from_db()
    assert bad.status == Segment.Status.FAILED
    assert bad.last_error


@pytest.mark.parametrize(
    "definition",
    [
        _trait("after", "9999-12-31", trait="signup"),
        _trait("between", ["2024-01-01", "9999-12-31"], trait="signup"),
        _trait("between", [1, "2024-01-01"], trait="signup"),
        _trait("greater_than", 10**400, trait="age"),
        _trait("in", [True], trait="vip"),
        _trait("equals", "a\x00b"),
        _trait("equals", "\ud800"),
        {"match": "all", "conditions": [{"type": "trait", "trait": "a\x00", "operator": "is_set"}]},
        {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "event": "E",
                    "window": {"from": "2024-01-01", "to": "9999-12-31"},
                }
            ],
        },
    ],
)
def test_values_no_database_can_use_are_refused_with_a_reason(marketer, definition):
    # Sent as escaped JSON text: the test client cannot encode a lone surrogate itself.
    body = json.dumps({"definition": definition})
    response = api(marketer).post("/api/segments/preview/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]


def test_a_name_with_nul_is_refused(marketer):
    response = api(marketer).post(
        "/api/segments/", {"name": "a\x00b", "definition": DE}, format="json"
    )
    assert response.status_code == 400


def test_a_body_nested_too_deep_is_a_400(marketer):
    body = '{"definition": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api(marketer).post("/api/segments/preview/", body, content_type="application/json")
    assert response.status_code == 400


def test_odd_ids_in_pages_are_no_error(marketer, client_for):
    segment = segment_create(user=marketer, name="Germany", definition=DE)
    client = client_for(marketer)
    assert client.get(f"/segments/{segment.pk}/", {"explain": "²"}).status_code == 200
    assert client.post("/segments/preview/", {"segment_id": "²"}).status_code == 200


@pytest.mark.parametrize("operator", ["starts_with", "contains", "ends_with", "greater_than"])
def test_masked_personal_traits_allow_only_exact_tests_for_marketers(marketer, operator):
    value = 1 if operator == "greater_than" else "jane"
    response = api(marketer).post(
        "/api/segments/preview/", {"definition": _trait(operator, value, "email")}, format="json"
    )
    assert response.status_code == 400
    assert "exact value" in response.json()["detail"]


def test_exact_tests_of_personal_traits_and_free_tests_for_people_who_see_them(marketer):
    exact = _trait("equals", "jane@example.com", "email")
    assert (
        api(marketer).post("/api/segments/preview/", {"definition": exact}, format="json")
    ).status_code == 200
    both = UserFactory(username="mo", roles=[Role.MARKETER, Role.SUPPORT_AGENT])
    prefix = _trait("starts_with", "jane", "customer_email")
    assert (
        api(both).post("/api/segments/preview/", {"definition": prefix}, format="json")
    ).status_code == 200


def test_members_shown_unmasked_are_audited(client_for):
    both = UserFactory(username="mo", roles=[Role.MARKETER, Role.SUPPORT_AGENT])
    segment = segment_create(user=both, name="Germany", definition=DE)
    profile = Profile.objects.create(traits={"country": "DE", "email": "jane@example.com"})
    SegmentMembership.objects.create(
        segment=segment, profile=profile, version=1, entered_at=timezone.now()
    )
    page = client_for(both).get(f"/segments/{segment.pk}/").content.decode()
    assert "jane@example.com" in page
    audit = AuditEvent.objects.get(action="segment.members_view")
    assert audit.detail["profile_ids"] == [profile.pk]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1 555", "'+1 555"),
        ("@sum", "'@sum"),
        ("Jane", "Jane"),
        (None, ""),
    ],
)
def test_export_cells_never_run_as_formulas(value, cell):
    assert _csv_cell(value) == cell


@pytest.mark.parametrize(
    "definition",
    [
        {"match": "all", "conditions": []},
        {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "event": "Order Completed",
                    "count": {"operator": "at_most", "value": 0},
                }
            ],
        },
        {
            "match": "all",
            "negate": True,
            "conditions": [{"type": "event", "event": "Order Completed"}],
        },
    ],
)
def test_a_new_profile_joins_segments_it_meets_without_their_events(marketer, definition):
    segment = Segment.objects.create(name="Never ordered", owner=marketer, definition=definition)
    viewed = EventFactory(type="track", event="Product Viewed", user_id="u-1")
    profile = Profile.objects.create()
    Event.objects.filter(pk=viewed.pk).update(profile=profile)
    segments_refresh_for_profiles(profile_ids=[profile.pk], event_names={viewed.event})
    assert SegmentMembership.objects.filter(segment=segment, profile=profile).exists()


def test_numbers_compare_exactly_and_a_huge_one_breaks_no_count(marketer):
    for n in (2**53, 2**53 + 1):  # beyond a double's exact integers
        Profile.objects.create(traits={"account": n})
    Profile.objects.create(traits={"account": 10**400})  # sent by a customer, kept exactly
    # A person confirmed the field is not personal: a marketer may compare it freely.
    DataField.objects.create(
        kind="trait",
        path="account",
        classification="not_personal",
        classified_by="person",
        first_seen_at=timezone.now(),
        refreshed_at=timezone.now(),
    )
    client = api(marketer)

    def count(operator, value):
        body = {"definition": _trait(operator, value, "account")}
        response = client.post("/api/segments/preview/", body, format="json")
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count("equals", 2**53) == 1
    assert count("in", [2**53 + 1]) == 1
    assert count("greater_than", 2**53) == 2  # 2**53 + 1 and the huge one
    assert count("less_than", 1.5) == 0


def test_references_cannot_multiply_into_a_query_nobody_can_run(marketer):
    base = segment_create(user=marketer, name="Base", definition=DE)
    previous = base
    for level in range(3):
        fan = {
            "match": "any",
            "conditions": [{"type": "segment", "segment": previous.pk} for _ in range(12)],
        }
        body = {"name": f"Level {level}", "definition": fan}
        response = api(marketer).post("/api/segments/", body, format="json")
        if response.status_code != 201:
            break
        previous = Segment.objects.get(pk=response.json()["id"])
    assert response.status_code == 400
    assert "more than 1000 conditions" in response.json()["detail"]
    assert level == 2  # 12 x 12 x 12 references: refused before the third level is saved


def test_impossible_dates_are_no_dates(marketer):
    for signup in ("2024-13-45", "0000-00-00", "2024-02-10"):
        Profile.objects.create(traits={"signup": signup})
    body = {"definition": _trait("before", "2025-01-01", "signup")}
    response = api(marketer).post("/api/segments/preview/", body, format="json")
    assert response.json()["count"] == 1


def test_masked_event_properties_allow_only_exact_tests_for_marketers(marketer):
    definition = {
        "match": "all",
        "conditions": [
            {
                "type": "event",
                "event": "Signed Up",
                "where": [{"property": "email", "operator": "starts_with", "value": "ja"}],
            }
        ],
    }
    response = api(marketer).post(
        "/api/segments/preview/", {"definition": definition}, format="json"
    )
    assert response.status_code == 400
    assert "exact value" in response.json()["detail"]
    definition["conditions"][0]["where"][0].update(operator="equals", value="jane@example.com")
    ok = api(marketer).post("/api/segments/preview/", {"definition": definition}, format="json")
    assert ok.status_code == 200
