"""REST API: preview, CRUD with validation paths, members, a profile's segments, permissions."""

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from profiles.models import DataField, Profile
from segments.models import Segment, SegmentMembership
from tests.factories import UserFactory

DE = {
    "match": "all",
    "conditions": [{"type": "trait", "trait": "country", "operator": "equals", "value": "DE"}],
}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_preview_counts_and_samples(marketer):
    de = [Profile.objects.create(traits={"country": "DE"}) for _ in range(3)]
    Profile.objects.create(traits={"country": "FR"})
    response = api(marketer).post("/api/segments/preview/", {"definition": DE}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "total_profiles": 4,
        "sample": sorted((p.pk for p in de), reverse=True),
    }


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        (
            {"match": "all", "conditions": [{"type": "trait", "trait": "x", "operator": "bigger"}]},
            "conditions.0.operator",
        ),
        (
            {
                "match": "all",
                "conditions": [
                    {"type": "trait", "trait": "x", "operator": "greater_than", "value": "ten"}
                ],
            },
            "conditions.0.value",
        ),
        (
            {
                "match": "all",
                "conditions": [
                    {
                        "type": "group",
                        "match": "any",
                        "conditions": [
                            {
                                "type": "event",
                                "event": "Order Completed",
                                "where": [{"property": "revenue", "operator": "in", "value": []}],
                            }
                        ],
                    }
                ],
            },
            "conditions.0.conditions.0.where.0.value",
        ),
        ({"match": "both", "conditions": []}, "match"),
        (
            {"match": "all", "conditions": [{"type": "segment", "segment": 999999}]},
            "conditions.0.segment",
        ),
        (
            {
                "match": "all",
                "conditions": [
                    {"type": "event", "event": "X", "count": {"operator": "at_least", "value": -1}}
                ],
            },
            "conditions.0.count.value",
        ),
        ("not a definition", ""),
    ],
)
def test_preview_rejects_bad_definition_with_path(marketer, definition, path):
    # The trait "x" is known not to be personal, so every operator is open to a marketer.
    now = timezone.now()
    DataField.objects.create(
        kind="trait", path="x", classification="not_personal", first_seen_at=now, refreshed_at=now
    )
    response = api(marketer).post(
        "/api/segments/preview/", {"definition": definition}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["path"] == path


def test_preview_denied_to_support_agent(support_agent):
    response = api(support_agent).post("/api/segments/preview/", {"definition": DE}, format="json")
    assert response.status_code == 403


def test_crud_and_self_reference_rejected(marketer, django_capture_on_commit_callbacks):
    client = api(marketer)
    Profile.objects.create(traits={"country": "DE"})
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/segments/", {"name": "Germany", "definition": DE}, format="json"
        )
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert Segment.objects.get(pk=segment_id).member_count == 1
    outer = client.post(
        "/api/segments/",
        {
            "name": "Outer",
            "definition": {
                "match": "all",
                "conditions": [{"type": "segment", "segment": segment_id}],
            },
        },
        format="json",
    ).json()["id"]
    loop = {"match": "all", "conditions": [{"type": "segment", "segment": outer}]}
    response = client.patch(f"/api/segments/{segment_id}/", {"definition": loop}, format="json")
    assert response.status_code == 400
    assert response.json()["path"] == "conditions.0.segment"
    assert Segment.objects.get(pk=segment_id).definition == DE
    assert (
        client.patch(f"/api/segments/{segment_id}/", {"name": "DE"}, format="json").json()["name"]
        == "DE"
    )
    assert client.delete(f"/api/segments/{segment_id}/").status_code == 409
    assert client.delete(f"/api/segments/{outer}/").status_code == 204
    assert client.delete(f"/api/segments/{segment_id}/").status_code == 204
    assert Segment.objects.count() == 0


def test_members_and_profile_segments(marketer, support_agent, django_capture_on_commit_callbacks):
    profile = Profile.objects.create(traits={"country": "DE"})
    with django_capture_on_commit_callbacks(execute=True):
        segment_id = (
            api(marketer)
            .post("/api/segments/", {"name": "Germany", "definition": DE}, format="json")
            .json()["id"]
        )
    members = api(marketer).get(f"/api/segments/{segment_id}/members/").json()
    assert members["count"] == 1
    assert members["results"][0]["profile_id"] == profile.pk
    mine = api(support_agent).get(f"/api/profiles/{profile.pk}/segments/").json()
    assert [(r["segment_id"], r["exited_at"]) for r in mine["results"]] == [(segment_id, None)]
    assert api(support_agent).get("/api/profiles/999999/segments/").status_code == 404


def test_segments_of_others_are_invisible_unless_shared(marketer):
    other = UserFactory(username="other_marketer", roles=["marketer"])
    segment = Segment.objects.create(name="Private", definition=DE, owner=marketer)
    client = api(other)
    assert client.get(f"/api/segments/{segment.pk}/").status_code == 404
    assert client.get("/api/segments/").json()["count"] == 0
    assign_perm("segments.view_segment", other, segment)
    assert client.get(f"/api/segments/{segment.pk}/").status_code == 200
    assert (
        client.patch(f"/api/segments/{segment.pk}/", {"name": "Mine"}, format="json").status_code
        == 403
    )
    assert Segment.objects.get(pk=segment.pk).name == "Private"
    assign_perm("segments.change_segment", other, segment)
    assert (
        client.patch(f"/api/segments/{segment.pk}/", {"name": "Ours"}, format="json").status_code
        == 200
    )
    assert SegmentMembership.objects.count() == 0


def test_a_change_by_whom_it_is_only_shown_is_a_403_with_a_code(marketer):
    viewer = UserFactory(username="viewer", roles=["marketer"])
    segment = Segment.objects.create(name="Private", definition=DE, owner=marketer)
    assign_perm("segments.view_segment", viewer, segment)
    for response in (
        api(viewer).patch(f"/api/segments/{segment.pk}/", {"name": "Mine"}, format="json"),
        api(viewer).delete(f"/api/segments/{segment.pk}/"),
    ):
        assert (response.status_code, response.json()) == (
            403,
            {"code": "permission_denied", "message": "You may view this segment only."},
        )
    assert Segment.objects.filter(pk=segment.pk, name="Private").exists()


def test_deleting_a_segment_in_use_is_a_409_with_a_code(marketer):
    inner = Segment.objects.create(name="Inner", definition=DE, owner=marketer)
    Segment.objects.create(
        name="Outer",
        owner=marketer,
        definition={"match": "all", "conditions": [{"type": "segment", "segment": inner.pk}]},
    )
    response = api(marketer).delete(f"/api/segments/{inner.pk}/")
    assert (response.status_code, response.json()) == (
        409,
        {"code": "segment_in_use", "message": "Other segments use this one: Outer."},
    )
    assert Segment.objects.filter(pk=inner.pk).exists()


def test_a_bad_definition_answers_its_code_path_and_message(marketer):
    definition = {"match": "all", "conditions": [{"type": "trait", "trait": "x", "operator": "?"}]}
    response = api(marketer).post(
        "/api/segments/", {"name": "Odd", "definition": definition}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body == {
        "code": "invalid_definition",
        "message": body["message"],
        "field": "conditions.0.operator",
        "path": "conditions.0.operator",
        "detail": body["message"],
    }
    assert body["message"]
    assert not Segment.objects.exists()


def test_a_preview_without_a_definition_is_a_400_at_the_top(marketer):
    response = api(marketer).post("/api/segments/preview/", {}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "invalid_definition",
            "message": "Send a definition.",
            "path": "",
            "detail": "Send a definition.",
        },
    )
