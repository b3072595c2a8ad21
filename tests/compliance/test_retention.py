"""Retention: events past their source's period, or the default, are deleted in bounded
batches; a source's own period wins over the default; the page shows the last run."""

import datetime as dt

import pytest
from django.utils import timezone

from cdp_site.errors import InvalidInputError
from compliance.models import RetentionPolicy, RetentionRun
from compliance.retention import PAST_EVERY_PERIOD, retention_apply, retention_policy_set
from compliance.tasks import retention_apply_task
from profiles.models import Event
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db


def _events(source, ages_in_days):
    now = timezone.now()
    for age in ages_in_days:
        EventFactory(source=source, timestamp=now - dt.timedelta(days=age))


def test_each_source_keeps_its_period_and_others_the_default():
    web, shop = SourceFactory(), SourceFactory()
    _events(web, [1, 20, 40, 400])
    _events(shop, [1, 20, 40, 400])
    retention_policy_set(source_id=None, days=30)
    retention_policy_set(source_id=shop.pk, days=365)

    run = retention_apply()

    assert run.deleted == 3
    # On PostgreSQL the 400-day-old events go first, as older than every period.
    assert sum(run.detail.values()) == 3
    assert run.detail.get(PAST_EVERY_PERIOD, 0) in (0, 2)
    assert Event.objects.filter(source_id=web.pk).count() == 2
    assert Event.objects.filter(source_id=shop.pk).count() == 3


def test_a_run_stops_at_its_batch_budget_and_the_next_continues():
    source = SourceFactory()
    _events(source, [100] * 7)
    # A source's own period: no default, so no month can go whole and rows go in batches.
    retention_policy_set(source_id=source.pk, days=30)
    first = retention_apply(batch_size=2, max_batches=2)
    assert (first.deleted, first.more) == (4, True)
    second = retention_apply(batch_size=2, max_batches=10)
    assert (second.deleted, second.more) == (3, False)
    assert not Event.objects.exists()


def test_task_run_twice_deletes_nothing_more():
    source = SourceFactory()
    _events(source, [100, 1])
    retention_policy_set(source_id=source.pk, days=30)
    assert retention_apply_task.delay().get() == 1
    assert retention_apply_task.delay().get() == 0
    assert Event.objects.count() == 1
    assert RetentionRun.objects.count() == 2


def test_no_policy_keeps_everything_and_bad_periods_are_refused():
    _events(SourceFactory(), [4000])
    assert retention_apply().deleted == 0
    with pytest.raises(InvalidInputError):
        retention_policy_set(source_id=None, days=0)
    retention_policy_set(source_id=None, days=10)
    retention_policy_set(source_id=None, days=20)
    assert list(RetentionPolicy.objects.values_list("source_id", "days")) == [(None, 20)]
    retention_policy_set(source_id=None, days=None)
    assert not RetentionPolicy.objects.exists()


def test_retention_page_sets_a_period_and_shows_the_last_run(compliance_officer, client_for):
    client = client_for(compliance_officer)
    response = client.post("/compliance/retention/", {"source_id": "", "days": "90"})
    assert response.status_code == 302
    retention_apply()
    page = client.get("/compliance/retention/").content.decode()
    assert "90 days" in page
    assert 'id="retention-last"' in page


@pytest.mark.parametrize("role", ["marketer", "support_agent", "integration_admin"])
def test_retention_page_is_refused_to_other_roles(role, request, client_for):
    response = client_for(request.getfixturevalue(role)).post(
        "/compliance/retention/", {"days": "1"}
    )
    assert response.status_code == 403
    assert not RetentionPolicy.objects.exists()


def test_months_older_than_every_period_are_dropped_whole_on_postgresql():
    from django.db import connection

    from profiles.event_partitions import event_partitions_ensure, is_partitioned, partitions_list

    if connection.vendor != "postgresql" or not is_partitioned():
        pytest.skip("needs the event table partitioned by month (PostgreSQL)")
    now = timezone.now()
    event_partitions_ensure(since=now - dt.timedelta(days=200))
    web, shop = SourceFactory(), SourceFactory()
    _events(web, [1, 45, 170, 175])
    _events(shop, [1, 45, 170])
    retention_policy_set(source_id=None, days=30)
    retention_policy_set(source_id=shop.pk, days=90)
    months_before = {p.name for p in partitions_list()}

    run = retention_apply()

    month = now - dt.timedelta(days=175)
    gone = months_before - {p.name for p in partitions_list()}
    assert f"profiles_event_p{month:%Y_%m}" in gone
    assert all(p.end <= now - dt.timedelta(days=90) for p in partitions_list() if p.name in gone)
    assert run.detail[PAST_EVERY_PERIOD] >= 2
    assert run.deleted == 4
    assert sorted(Event.objects.values_list("source_id", flat=True)) == sorted(
        [web.pk, shop.pk, shop.pk]
    )
