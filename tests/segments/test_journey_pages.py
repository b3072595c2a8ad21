"""The funnel and path pages, and the segments made from a funnel's drop-out and an RFM group."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from profiles.models import Event, Profile
from segments.definition import CONDITION_TYPES
from segments.journeys.services import rfm_group_definition
from segments.models import Segment

pytestmark = pytest.mark.django_db

_ids = itertools.count()


def _did(profile, name, at, **properties):
    Event.objects.create(
        source_id=1,
        message_id=f"p-{next(_ids)}",
        type="track",
        event=name,
        properties=properties,
        timestamp=at,
        received_at=at,
        profile=profile,
    )


@pytest.fixture
def shoppers():
    """Four people viewed a product yesterday; three added it to the cart; one bought."""
    day = timezone.now() - dt.timedelta(days=1)
    people = [Profile.objects.create() for _ in range(4)]
    for i, person in enumerate(people):
        _did(person, "Product Viewed", day, plan="pro" if i else "free")
        if i < 3:
            _did(person, "Product Added", day + dt.timedelta(minutes=10))
        if i < 1:
            _did(person, "Order Completed", day + dt.timedelta(minutes=40))
    return people


STEPS = "event=Product+Viewed&event=Product+Added&event=Order+Completed"


def test_funnel_counts_conversion_and_median_time(client_for, marketer, shoppers):
    response = client_for(marketer).get(f"/journeys/funnel/?{STEPS}&window_days=7")
    html = response.content.decode()
    steps = response.context["steps"]
    assert [s["reached"] for s in steps] == [4, 3, 1]
    assert [s["dropped"] for s in steps] == [1, 2, None]
    assert steps[1]["median_seconds"] == pytest.approx(600)
    assert steps[2]["median_seconds"] == pytest.approx(1800)
    assert "funnel-chart-data" in html
    assert html.count('action="/journeys/funnel/dropped/"') == 2


def test_funnel_step_filters_narrow_the_entry(client_for, marketer, shoppers):
    url = f"/journeys/funnel/?{STEPS}&prop=plan&op=equals&value=pro"
    steps = client_for(marketer).get(url).context["steps"]
    assert [s["reached"] for s in steps] == [3, 2, 0]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("event=Product+Viewed", "A funnel has 2 to 6 steps."),
        (f"{STEPS}&window_days=400", "The conversion window is 1 to 90 days."),
        (f"{STEPS}&start=2026-13-01", "is not a date"),
        (f"{STEPS}&segment=999999", "Choose one of your segments."),
        (f"{STEPS}&prop=plan&op=greater_than&value=lots", "is not a number"),
    ],
)
def test_funnel_questions_that_cannot_be_asked_say_why(client_for, marketer, query, message):
    response = client_for(marketer).get(f"/journeys/funnel/?{query}")
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "steps" not in response.context


def test_dropped_out_people_become_a_segment(client_for, marketer, shoppers):
    client = client_for(marketer)
    response = client.post(
        "/journeys/funnel/dropped/",
        {
            "event": ["Product Viewed", "Product Added", "Order Completed"],
            "prop": ["", "", ""],
            "op": ["equals"] * 3,
            "value": ["", "", ""],
            "window_days": "7",
            "step": "2",
        },
    )
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/segments/{segment.pk}/"
    conditions = segment.definition["conditions"]
    assert [c["event"] for c in conditions] == [
        "Product Viewed",
        "Product Added",
        "Order Completed",
    ]
    assert conditions[-1]["count"] == {"operator": "at_most", "value": 0}
    from segments.compiler import segment_queryset

    members = set(segment_queryset(segment.definition).values_list("pk", flat=True))
    assert members == {shoppers[1].pk, shoppers[2].pk}


def test_the_last_step_has_no_drop_out_segment(client_for, marketer, shoppers):
    client_for(marketer).post(
        "/journeys/funnel/dropped/",
        {"event": ["Product Viewed", "Product Added"], "step": "2", "window_days": "7"},
    )
    assert not Segment.objects.exists()


def test_paths_show_what_comes_next(client_for, marketer, shoppers):
    response = client_for(marketer).get("/journeys/paths/?event=Product+Viewed&depth=2")
    answer = response.context["answer"]
    assert answer["anchors"] == 4
    assert {(link["position"], link["source"], link["target"]): link["people"]
            for link in answer["links"]} == {
        (1, "Product Viewed", "Product Added"): 3,
        (1, "Product Viewed", "(end)"): 1,
        (2, "Product Added", "Order Completed"): 1,
        (2, "Product Added", "(end)"): 2,
    }  # fmt: skip
    assert "paths-chart-data" in response.content.decode()


def test_paths_of_an_event_nobody_did_say_so(client_for, marketer):
    html = client_for(marketer).get("/journeys/paths/?event=Nothing").content.decode()
    assert "No one did Nothing in this period" in html


def test_rfm_group_segment_reads_the_computed_group():
    assert rfm_group_definition("At risk")["conditions"] == [
        {"type": "computed", "trait": "rfm_group", "operator": "equals", "value": "At risk"}
    ]


def test_an_unknown_rfm_group_creates_nothing(client_for, marketer):
    response = client_for(marketer).post("/segments/from-rfm-group/", {"group": "Royalty"})
    assert response.status_code == 302
    assert response["Location"] == "/scores/rfm/"
    assert not Segment.objects.exists()


@pytest.mark.skipif(
    "computed" not in CONDITION_TYPES,
    reason="the segment definition format reads computed values from the computed traits work",
)
def test_an_rfm_group_becomes_a_segment_of_its_customers(client_for, marketer):
    from profiles.models import ProfileComputed
    from segments.compiler import segment_queryset

    champion, lost = Profile.objects.create(), Profile.objects.create()
    ProfileComputed.objects.create(profile=champion, values={"rfm_group": "Champions"})
    ProfileComputed.objects.create(profile=lost, values={"rfm_group": "Lost"})
    response = client_for(marketer).post("/segments/from-rfm-group/", {"group": "Champions"})
    segment = Segment.objects.get()
    assert response["Location"] == f"/segments/{segment.pk}/"
    assert list(segment_queryset(segment.definition).values_list("pk", flat=True)) == [champion.pk]
