"""The computed trait pages: list, create (with errors in place), detail with its histogram,
edit, delete; built-ins cannot be changed; the 360 header reads the computed values."""

import pytest
from django.urls import reverse

from profiles.charts import distribution_figure
from profiles.models import ComputedTrait, Profile, ProfileComputed

pytestmark = pytest.mark.django_db


def test_the_list_shows_the_builtin_traits(client_for, marketer):
    page = client_for(marketer).get(reverse("profiles:computed_trait_list"))
    assert page.status_code == 200
    for name in ("Orders", "Lifetime value", "Average order value", "Days since last seen"):
        assert name in page.content.decode()


def test_a_marketer_creates_a_computed_trait(client_for, marketer):
    response = client_for(marketer).post(
        reverse("profiles:computed_trait_new"),
        {
            "key": "big_orders",
            "name": "Big orders",
            "kind": "event_count",
            "event": "Order Completed",
            "window_days": "30",
            "where-0-property": "revenue",
            "where-0-operator": "greater_than",
            "where-0-value": "100",
        },
    )
    trait = ComputedTrait.objects.get(key="big_orders")
    assert response.status_code == 302
    assert response["Location"] == reverse("profiles:computed_trait_detail", args=[trait.pk])
    assert trait.window_days == 30
    assert trait.where == [{"property": "revenue", "operator": "greater_than", "value": 100}]
    assert trait.created_by == marketer


def test_invalid_input_comes_back_with_the_errors_in_place(client_for, marketer):
    before = ComputedTrait.objects.count()
    response = client_for(marketer).post(
        reverse("profiles:computed_trait_new"),
        {"key": "Bad key", "name": "", "kind": "sum", "event": "Order Completed"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Use lower-case letters" in body
    assert "Give it a name." in body
    assert "Choose a property." in body
    assert ComputedTrait.objects.count() == before


def test_detail_shows_when_computed_and_the_distribution(client_for, marketer):
    trait = ComputedTrait.objects.get(key="order_count")
    trait.distribution = {"type": "number", "edges": [0, 1, 2], "counts": [3, 4], "total": 7}
    trait.last_duration_ms = 1234
    trait.save()
    body = (
        client_for(marketer)
        .get(reverse("profiles:computed_trait_detail", args=[trait.pk]))
        .content.decode()
    )
    assert "distribution-chart-data" in body
    assert "1234 ms" in body


def test_builtins_cannot_be_edited_or_deleted(client_for, marketer):
    trait = ComputedTrait.objects.get(key="lifetime_value")
    client = client_for(marketer)
    client.post(reverse("profiles:computed_trait_delete", args=[trait.pk]))
    edit = client.post(
        reverse("profiles:computed_trait_edit", args=[trait.pk]), {"name": "x", "kind": "max"}
    )
    assert edit.status_code == 302
    trait.refresh_from_db()
    assert (trait.name, trait.kind) == ("Lifetime value", "sum")


def test_a_marketer_edits_and_deletes_their_trait(client_for, marketer):
    trait = ComputedTrait.objects.create(
        key="views", name="Views", kind="event_count", event="Product Viewed"
    )
    client = client_for(marketer)
    client.post(
        reverse("profiles:computed_trait_edit", args=[trait.pk]),
        {
            "name": "Recent views",
            "kind": "event_count",
            "event": "Product Viewed",
            "window_days": "7",
        },
    )
    trait.refresh_from_db()
    assert (trait.name, trait.window_days, trait.key) == ("Recent views", 7, "views")
    client.post(reverse("profiles:computed_trait_delete", args=[trait.pk]))
    assert not ComputedTrait.objects.filter(pk=trait.pk).exists()


def test_the_360_header_shows_lifetime_value_and_orders_from_computed_values(
    client_for, support_agent
):
    profile = Profile.objects.create(traits={"name": "Ann"})
    page = client_for(support_agent).get(reverse("profiles:detail", args=[profile.pk]))
    assert "not computed yet" in page.content.decode()
    ProfileComputed.objects.create(
        profile=profile, values={"lifetime_value": 1234.5, "order_count": 7}
    )
    body = (
        client_for(support_agent)
        .get(reverse("profiles:detail", args=[profile.pk]))
        .content.decode()
    )
    assert "1,234.50" in body
    assert "<dt>Orders</dt><dd>7</dd>" in body


def test_distribution_figures():
    assert distribution_figure({}) is None
    assert distribution_figure({"type": "number", "edges": [0, 1], "counts": [0]}) is None
    numbers = distribution_figure(
        {"type": "number", "edges": [0.0, 10.0, 20.0], "counts": [5, 2], "total": 7}
    )
    assert numbers["data"][0]["x"] == [5.0, 15.0]
    assert numbers["data"][0]["y"] == [5, 2]
    assert numbers["data"][0]["width"] == [10.0, 10.0]
    months = distribution_figure(
        {"type": "date", "labels": ["2026-01", "2026-02"], "counts": [1, 3], "total": 4}
    )
    assert months["data"][0]["x"] == ["2026-01", "2026-02"]
    assert months["layout"]["xaxis"]["type"] == "category"
