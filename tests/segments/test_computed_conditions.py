"""Computed traits in segments: validation, the builder (a field with its type), the live count
from `ProfileComputed.values`, and the words of the explanation."""

import pytest

from profiles.models import ComputedTrait, Profile, ProfileComputed
from segments.builder import FormReader
from segments.compiler import explain, segment_queryset
from segments.definition import definition_problems
from segments.describe import describe_condition

pytestmark = pytest.mark.django_db

BIG_SPENDERS = {
    "match": "all",
    "conditions": [
        {"type": "computed", "trait": "lifetime_value", "operator": "greater_than", "value": 100}
    ],
}


@pytest.fixture
def people():
    rich, poor, unknown = (Profile.objects.create() for _ in range(3))
    ProfileComputed.objects.create(profile=rich, values={"lifetime_value": 250.5})
    ProfileComputed.objects.create(profile=poor, values={"lifetime_value": 20})
    return rich, poor, unknown


def test_members_come_from_the_computed_values(people):
    rich, poor, unknown = people
    assert set(segment_queryset(BIG_SPENDERS).values_list("pk", flat=True)) == {rich.pk}
    negated = {**BIG_SPENDERS, "negate": True}
    assert set(segment_queryset(negated).values_list("pk", flat=True)) == {poor.pk, unknown.pk}
    not_set = {
        "match": "all",
        "conditions": [{"type": "computed", "trait": "lifetime_value", "operator": "is_not_set"}],
    }
    assert set(segment_queryset(not_set).values_list("pk", flat=True)) == {unknown.pk}


def test_the_explanation_names_the_computed_trait(people):
    rich, _poor, _unknown = people
    result = explain(BIG_SPENDERS, rich.pk)
    assert result.children[0].met
    assert result.children[0].label == "lifetime_value > 100"
    assert describe_condition(BIG_SPENDERS["conditions"][0]) == "lifetime_value > 100"


def test_a_computed_condition_needs_a_key_and_a_valid_test():
    problems = definition_problems(
        {"match": "all", "conditions": [{"type": "computed", "operator": "greater_than"}]},
        personal=False,
    )
    assert {p.path for p in problems} == {"conditions.0.trait", "conditions.0.value"}


def test_the_form_reads_a_computed_value_by_its_type():
    data = {
        "node": ["r", "r.0"],
        "n-r-type": "group",
        "n-r-match": "all",
        "n-r.0-type": "computed",
        "n-r.0-trait": "order_count",
        "n-r.0-operator": "greater_or_equal",
        "n-r.0-value": "3",
    }

    class Post(dict):
        def getlist(self, key):
            return self[key]

    definition = FormReader(Post(data), {}, {}, {"order_count": "number"}).definition()
    assert definition["conditions"] == [
        {
            "type": "computed",
            "negate": False,
            "trait": "order_count",
            "operator": "greater_or_equal",
            "value": 3,
        }
    ]


def test_the_builder_offers_computed_traits_with_their_type(marketer, client_for, people):
    ComputedTrait.objects.create(key="views", name="Views", kind="event_count", event="Viewed")
    client = client_for(marketer)
    body = client.post(
        "/segments/new/",
        {"node": ["r"], "n-r-type": "group", "n-r-match": "all", "op": "add-computed:r"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'name="n-r.0-trait"' in body
    assert 'list="computed-keys"' in body
    page = client.get("/segments/new/").content.decode()
    assert '<option value="views">number</option>' in page
    assert '<option value="first_order_at">date</option>' in page
