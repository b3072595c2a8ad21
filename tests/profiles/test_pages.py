"""The customer 360 pages: search, profile, timeline; masking and the audit trail."""

import datetime as dt

import pytest

from compliance.models import AuditEvent
from profiles.identity import events_resolve_pending
from profiles.models import Identity
from tests.factories import EventFactory, SourceFactory, merged_pair

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def jane():
    web = SourceFactory(name="Web")
    shop = SourceFactory(name="Shop")
    EventFactory(source=web, type="page", name="Home", anonymous_id="a-j", timestamp=T0)
    EventFactory(
        source=web,
        type="identify",
        anonymous_id="a-j",
        user_id="jane-7",
        traits={"email": "Jane.Doe@Example.com", "name": "Jane Doe", "phone": "+1 415 555 0132"},
        timestamp=T0 + dt.timedelta(minutes=1),
    )
    for n in range(60):
        EventFactory(
            source=shop,
            type="track",
            event="Order Completed",
            anonymous_id="",
            user_id="jane-7",
            properties={"revenue": n},
            timestamp=T0 + dt.timedelta(days=1, minutes=n),
        )
    events_resolve_pending()
    return Identity.objects.get(kind="user_id", value="jane-7").profile


@pytest.mark.parametrize(
    "query",
    ["jane.doe@example.com", " JANE.DOE@EXAMPLE.COM", "(415) 555-0132", "jane-7", "Jane", "doe"],
)
def test_search_finds_by_any_identifier_or_name(jane, support_agent, client_for, query):
    response = client_for(support_agent).get("/customers/", {"q": query})
    assert response.status_code == 200
    assert f"/customers/{jane.pk}/" in response.content.decode()


def test_search_by_profile_id_and_exact_hits_first(jane, support_agent, client_for):
    response = client_for(support_agent).get("/customers/", {"q": str(jane.pk)})
    assert f"/customers/{jane.pk}/" in response.content.decode()
    assert "exact profile id" in response.content.decode()


def test_search_fragment_for_htmx(jane, support_agent, client_for):
    response = client_for(support_agent).get(
        "/customers/", {"q": "jane.doe@example.com"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert "<html" not in body
    assert 'id="q"' not in body  # the results only: the search box stays as it is
    assert body.lstrip().startswith('<div class="table-wrap"><table class="search-results">')
    assert "exact email" in body


def test_search_nothing_found(support_agent, client_for):
    response = client_for(support_agent).get("/customers/", {"q": "nobody@nowhere.io"})
    assert "No customer matches" in response.content.decode()


@pytest.mark.parametrize("query", ["%", "_", "\\", "'; drop table x; --", "9" * 40, "x" * 5000])
def test_search_odd_input_never_fails(support_agent, client_for, query):
    assert client_for(support_agent).get("/customers/", {"q": query}).status_code == 200


def test_profile_page_shows_everything_to_support_agent(jane, support_agent, client_for):
    response = client_for(support_agent).get(f"/customers/{jane.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    for text in (
        "Jane Doe",
        "jane.doe@example.com",
        "+14155550132",
        "Identities",
        "Traits",
        "Merge history",
        "activity-chart",
        "Order Completed",
        "Older events",
    ):
        assert text in body


def test_profile_page_masks_personal_data_for_marketer(jane, marketer, client_for):
    body = client_for(marketer).get(f"/customers/{jane.pk}/").content.decode()
    assert "j***@example.com" in body
    assert "jane.doe@example.com" not in body
    assert "Jane Doe" not in body
    assert "+14155550132" not in body


def test_profile_view_is_audited(jane, support_agent, client_for):
    client_for(support_agent).get(f"/customers/{jane.pk}/")
    audit = AuditEvent.objects.filter(profile_id=jane.pk, action="profile.view")
    assert audit.count() == 1


def test_profile_page_denied_to_integration_admin(jane, integration_admin, client_for):
    assert client_for(integration_admin).get(f"/customers/{jane.pk}/").status_code == 403
    assert not AuditEvent.objects.filter(profile_id=jane.pk).exists()


def test_unknown_profile_is_404(support_agent, client_for):
    assert client_for(support_agent).get("/customers/999999/").status_code == 404


def test_merged_profile_redirects_to_winner(support_agent, client_for):
    merge = merged_pair(T0)
    response = client_for(support_agent).get(f"/customers/{merge.loser_id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{merge.winner_id}/"


def test_timeline_pages_newest_first_and_filters(jane, support_agent, client_for):
    client = client_for(support_agent)
    first = client.get(f"/customers/{jane.pk}/timeline/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in first
    assert "timeline-filters" not in first  # the items only: the filters stay in place
    assert first.lstrip().startswith('<li class="timeline-item">')
    assert first.count('class="timeline-item"') == 50
    assert "revenue&quot;: 59" in first
    next_url = first.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_url, HTTP_HX_REQUEST="true").content.decode()
    assert second.count('class="timeline-item"') == 12
    assert "revenue&quot;: 59" not in second
    pages = client.get(
        f"/customers/{jane.pk}/timeline/", {"type": "page"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert pages.count('class="timeline-item"') == 1


def test_timeline_full_page_and_bad_cursor(jane, support_agent, client_for):
    client = client_for(support_agent)
    response = client.get(
        f"/customers/{jane.pk}/timeline/", {"before": "garbage_x", "source": "abc"}
    )
    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_activity_chart_stacks_weeks_by_source():
    from profiles.charts import activity_weekly_figure

    week = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    figure = activity_weekly_figure(
        [
            {"week": week, "source": "Web", "count": 3},
            {"week": week, "source": "Shop", "count": 2},
            {"week": week + dt.timedelta(7), "source": "Web", "count": 1},
        ]
    )
    assert figure["layout"]["barmode"] == "stack"
    assert [(t["name"], t["x"], t["y"]) for t in figure["data"]] == [
        ("Web", ["2026-03-02", "2026-03-09"], [3, 1]),
        ("Shop", ["2026-03-02", "2026-03-09"], [2, 0]),
    ]


@pytest.mark.parametrize("query", ["²", "\x00", "a\x00b", "¹²³"])
def test_odd_search_input_is_no_error(jane, support_agent, client_for, query):
    response = client_for(support_agent).get("/customers/", {"q": query})
    assert response.status_code == 200


def test_odd_timeline_source_is_ignored(jane, support_agent, client_for):
    response = client_for(support_agent).get(f"/customers/{jane.pk}/timeline/", {"source": "²"})
    assert response.status_code == 200


def test_the_profile_page_takes_the_timeline_filters_from_its_address(
    jane, support_agent, client_for
):
    client = client_for(support_agent)
    page = client.get(f"/customers/{jane.pk}/", {"type": "page"})
    assert page.content.decode().count('class="timeline-item"') == 1
    assert '<option value="page" selected>' in page.content.decode()
    # Filtering in the page puts the filter into the address of the profile page.
    fragment = client.get(
        f"/customers/{jane.pk}/timeline/",
        {"type": "page"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="timeline-list",
    )
    assert fragment["HX-Push-Url"] == f"/customers/{jane.pk}/?type=page"


def test_a_filter_that_matches_nothing_offers_all_events(jane, support_agent, client_for):
    page = client_for(support_agent).get(f"/customers/{jane.pk}/", {"type": "alias"})
    body = page.content.decode()
    assert "No events match these filters." in body
    assert f'href="/customers/{jane.pk}/">Show all events' in body
