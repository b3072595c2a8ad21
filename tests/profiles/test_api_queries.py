"""The profiles API reads a page with a fixed number of queries, whatever the page size."""

import datetime as dt

import pytest

from profiles.catalogue.scan import catalogue_refresh
from profiles.identity import events_resolve_pending
from profiles.models import Identity
from tests.factories import EventFactory
from tests.profiles.test_api import api_for

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)
# The token, the caller's permissions (two), the count, the page, its identities and its merges
# (or the profile, for its events), and the audit row.
PAGE_QUERIES = 8
# A page of events reads, beside the profile, which profiles its events are stored under (the
# profile and those merged into it).
EVENTS_PAGE_QUERIES = PAGE_QUERIES + 1


def _customers(count: int) -> None:
    """`count` people, each with a user id, an anonymous id and an e-mail, and one absorbed
    profile (merged into it) for every other person."""
    for n in range(count):
        at = T0 + dt.timedelta(minutes=n)
        EventFactory(
            type="identify", anonymous_id=f"a-{n}", traits={"email": f"p{n}@x.io"}, timestamp=at
        )
        if n % 2:
            EventFactory(type="identify", anonymous_id="", user_id=f"u-{n}", timestamp=at)
    events_resolve_pending()
    for n in range(1, count, 2):
        EventFactory(
            type="identify",
            anonymous_id="",
            user_id=f"u-{n}",
            traits={"email": f"p{n}@x.io"},
            timestamp=T0 + dt.timedelta(hours=1, minutes=n),
        )
    events_resolve_pending()
    # The data catalogue as the worker keeps it: a marketer's masking reads it.
    catalogue_refresh()


@pytest.mark.parametrize("count", [10, 40])
@pytest.mark.parametrize("persona_name", ["support_agent", "marketer"])
def test_a_page_of_profiles_costs_the_same_queries_whatever_its_size(
    count, persona_name, request, django_assert_max_num_queries
):
    _customers(count)
    client = api_for(request.getfixturevalue(persona_name))
    # A marketer's masking reads the data catalogue (once every few seconds per process).
    budget = PAGE_QUERIES + (1 if persona_name == "marketer" else 0)
    with django_assert_max_num_queries(budget):
        response = client.get("/api/profiles/", {"page_size": count})
    rows = response.json()["results"]
    assert len(rows) == count
    assert sum(len(row["merged_from"]) for row in rows) == count // 2
    assert all(row["identities"] for row in rows)


@pytest.mark.parametrize("count", [10, 40])
def test_a_page_of_events_costs_the_same_queries_whatever_its_size(
    count, support_agent, django_assert_max_num_queries
):
    for n in range(count):
        EventFactory(anonymous_id="a-1", timestamp=T0 + dt.timedelta(minutes=n))
    events_resolve_pending()
    profile = Identity.objects.get(value="a-1").profile
    client = api_for(support_agent)
    with django_assert_max_num_queries(EVENTS_PAGE_QUERIES):
        response = client.get(f"/api/profiles/{profile.pk}/events/", {"page_size": count})
    events = response.json()["results"]
    assert len(events) == count
    assert len({event["source"] for event in events}) == count
