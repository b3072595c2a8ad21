"""Source names in the customer 360 and the API: read by id from `integrations`, once per page."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_site import source_names as source_names_module
from cdp_site.source_names import source_names
from profiles import selectors
from profiles.identity import events_resolve_pending
from profiles.models import Event, Identity
from tests.factories import EventFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def web():
    return SourceFactory(name="Web")


@pytest.fixture
def shop():
    return SourceFactory(name="Shop")


@pytest.fixture
def reader():
    return UserFactory(is_superuser=True)


def _person(web, shop, *, events_per_source: int = 1, user_id: str = "u-1"):
    """A profile known to Web by user id and e-mail, and to Shop by a device id."""
    EventFactory(
        source=web,
        type="identify",
        user_id=user_id,
        anonymous_id="",
        traits={"email": f"{user_id}@x.io"},
    )
    for n in range(events_per_source):
        at = T0 + dt.timedelta(days=n)
        EventFactory(source=web, user_id=user_id, anonymous_id="", timestamp=at)
        EventFactory(source=shop, user_id=user_id, anonymous_id=f"{user_id}-device", timestamp=at)
    events_resolve_pending()
    return Identity.objects.get(kind="user_id", value=user_id).profile


def test_source_names_reads_the_names_of_existing_sources_only(
    web, shop, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert source_names([web.pk, shop.pk, None, web.pk, 10**12]) == {
            web.pk: "Web",
            shop.pk: "Shop",
        }
    with django_assert_num_queries(0):
        assert source_names([None]) == {}


def test_without_a_provider_profiles_shows_no_names(
    web, shop, reader, monkeypatch, django_assert_num_queries
):
    profile = _person(web, shop)
    monkeypatch.setattr(source_names_module, "_provider", None)
    with django_assert_num_queries(1):
        rows = selectors.profile_identities_for_user(profile=profile, user=reader)
    assert {row["source"] for row in rows} == {""}


@pytest.mark.parametrize("events_per_source", [1, 12])
def test_the_360_parts_name_sources_in_a_fixed_number_of_queries(
    web, shop, reader, events_per_source, django_assert_num_queries
):
    profile = _person(web, shop, events_per_source=events_per_source)
    # The events' parts read which profiles the events are stored under, their rows, the names.
    with django_assert_num_queries(3):
        events, _ = selectors.profile_timeline(profile=profile, filters=selectors.TimelineFilter())
    assert {(e.source_id, e.source_name) for e in events} == {(web.pk, "Web"), (shop.pk, "Shop")}
    with django_assert_num_queries(2):
        identities = selectors.profile_identities_for_user(profile=profile, user=reader)
    assert {(row["kind"], row["source"]) for row in identities} == {
        ("user_id", "Web"),
        ("email", "Web"),
        ("anonymous_id", "Shop"),
    }
    with django_assert_num_queries(3):
        assert selectors.profile_event_sources(profile=profile) == [
            (shop.pk, "Shop"),
            (web.pk, "Web"),
        ]
    with django_assert_num_queries(3):
        activity = selectors.profile_activity_weekly(profile=profile)
    assert [row["source"] for row in activity[:2]] == ["Shop", "Web"]
    assert sum(row["count"] for row in activity) == 2 * events_per_source + 1


def test_the_timeline_and_the_api_show_each_event_with_its_source_name(
    web, shop, support_agent, client_for
):
    profile = _person(web, shop, events_per_source=2)
    client = client_for(support_agent)
    page = client.get(f"/customers/{profile.pk}/").content.decode()
    assert "· Web</span>" in page
    assert "· Shop</span>" in page
    api = client.get(f"/api/profiles/{profile.pk}/events/").json()
    assert {row["source"] for row in api["results"]} == {"Web", "Shop"}


def test_the_api_names_sources_in_the_same_queries_however_many_events(
    web, shop, support_agent, client_for
):
    client = client_for(support_agent)
    counts = []
    for user_id, n in (("few", 1), ("many", 10)):
        profile = _person(web, shop, events_per_source=n, user_id=user_id)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/profiles/{profile.pk}/events/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_event_of_a_source_that_is_gone_shows_no_name(web, shop):
    profile = _person(web, shop)
    Event.objects.filter(source_id=web.pk).update(source_id=10**12)
    events, _ = selectors.profile_timeline(profile=profile, filters=selectors.TimelineFilter())
    assert {e.source_name for e in events} == {"Shop", ""}
