"""The home dashboard: each role gets the panels meant for it, each panel reads the numbers the
worker kept (with their "as of" time) and links to where a person acts on them."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from cdp_site.models import DashboardAggregate
from compliance.dashboard import dashboard_refresh as requests_refresh
from compliance.models import DataSubjectRequest
from integrations.dashboard import dashboard_refresh as syncs_refresh
from integrations.models import SyncRun
from profiles.dashboard import dashboard_refresh as profiles_refresh
from profiles.models import Event, Identity, Profile
from segments.dashboard import dashboard_refresh as segments_refresh
from segments.models import Segment, SegmentSnapshot
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

PANELS = {
    "/dashboard/customers/": {
        "marketer",
        "support_agent",
        "integration_admin",
        "compliance_officer",
    },
    "/dashboard/segments/": {"marketer"},
    "/dashboard/syncs/": {"integration_admin"},
    "/dashboard/requests/": {"compliance_officer"},
}


def _figure(html: str, script_id: str) -> dict:
    match = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no {script_id}"
    return json.loads(match.group(1))


def test_home_loads_the_panels_of_each_role(client_for, persona):
    name, user = persona
    html = client_for(user).get("/").content.decode()
    shown = {url for url in PANELS if f'hx-get="{url}"' in html}
    expected = set(PANELS) if name == "superuser" else {u for u, r in PANELS.items() if name in r}
    assert shown == expected


@pytest.mark.parametrize("url", list(PANELS))
def test_a_panel_before_the_worker_computed_it_says_so(client_for, superuser, url):
    html = client_for(superuser).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Not computed yet" in html


def test_customers_panel_counts_profiles_identified_events_and_links(
    client_for, marketer, integration_admin
):
    now = timezone.now()
    web = SourceFactory(name="Web shop")
    known, anonymous = (
        Profile.objects.create(first_seen=now),
        Profile.objects.create(first_seen=now),
    )
    Identity.objects.create(
        kind="email", value="k@example.com", profile=known, first_seen=now, last_seen=now
    )
    Identity.objects.create(
        kind="anonymous_id", value="a1", profile=anonymous, first_seen=now, last_seen=now
    )
    for i, at in enumerate([now, now - dt.timedelta(days=3), now - dt.timedelta(days=20)]):
        Event.objects.create(
            source_id=web.pk, message_id=f"d-{i}", type="track", event="X", timestamp=at,
            received_at=at, profile=known,
        )  # fmt: skip
    profiles_refresh()
    html = client_for(marketer).get("/dashboard/customers/").content.decode()
    value = DashboardAggregate.objects.get(key="profiles.overview").value
    assert (value["profiles"], value["identified"], value["events_7_days"]) == (2, 1, 2)
    assert value["events_today"] >= 1
    assert "50%" in html
    assert "As of" in html
    figure = _figure(html, "events-per-day-data")
    assert figure["data"][0]["name"] == "Web shop"
    # Marketers act on customers, not sources: no link to the source.
    assert "customdata" not in figure["data"][0]
    admin_html = client_for(integration_admin).get("/dashboard/customers/").content.decode()
    admin_figure = _figure(admin_html, "events-per-day-data")
    assert admin_figure["data"][0]["customdata"][0] == f"/sources/{web.pk}/"
    assert "<script>" not in admin_html
    assert 'style="' not in admin_html


def test_segments_panel_shows_only_the_segments_the_marketer_may_see(
    client_for, marketer, superuser
):
    mine = Segment.objects.create(name="Mine", owner=marketer, member_count=12)
    Segment.objects.create(name="Someone else's", owner=superuser, member_count=50)
    SegmentSnapshot.objects.create(segment=mine, taken_at=timezone.now(), size=12)
    segments_refresh()
    html = client_for(marketer).get("/dashboard/segments/").content.decode()
    assert "Mine" in html
    assert "Someone else" not in html
    sizes = _figure(html, "segment-sizes-data")
    assert sizes["data"][0]["customdata"] == [f"/segments/{mine.pk}/"]
    assert "segment-trends-data" in html


def test_sync_health_panel_lists_failures_with_their_run(client_for, integration_admin):
    source = SourceFactory(name="CRM")
    SyncRun.objects.create(source=source, status=SyncRun.Status.SUCCEEDED)
    failed = SyncRun.objects.create(
        source=source, status=SyncRun.Status.FAILED, message="401 from the CRM"
    )
    syncs_refresh()
    html = client_for(integration_admin).get("/dashboard/syncs/").content.decode()
    assert "401 from the CRM" in html
    assert f'href="/sources/{source.pk}/runs/{failed.pk}/"' in html
    value = DashboardAggregate.objects.get(key="integrations.sync_health").value
    assert (value["runs"], value["failed"]) == (2, 1)


def test_requests_panel_counts_open_and_overdue(client_for, compliance_officer):
    today = timezone.now().date()
    overdue = DataSubjectRequest.objects.create(
        type="erasure", received_on=today - dt.timedelta(days=40), due_on=today - dt.timedelta(3)
    )
    DataSubjectRequest.objects.create(
        type="access", received_on=today, due_on=today + dt.timedelta(days=5)
    )
    DataSubjectRequest.objects.create(
        type="access", received_on=today, due_on=today - dt.timedelta(days=1), status="completed"
    )
    requests_refresh()
    requests_refresh()  # run twice: the same numbers, one row
    html = client_for(compliance_officer).get("/dashboard/requests/").content.decode()
    value = DashboardAggregate.objects.get(key="compliance.requests").value
    assert (value["open"], value["overdue"], value["due_soon"]) == (2, 1, 1)
    assert f'href="/compliance/requests/{overdue.pk}/"' in html
    assert DashboardAggregate.objects.filter(key="compliance.requests").count() == 1
