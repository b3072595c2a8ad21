"""Sync runs against a real PostgreSQL table: incremental reads, idempotent storage, terminal
and transient failures, one active run per source, cancel."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from cdp_site.errors import ConflictError
from integrations.models import SyncRun
from integrations.sources import source_connector_create
from integrations.sync.runner import (
    retry_delay,
    sync_run_cancel,
    sync_run_execute,
    sync_run_start,
)
from profiles.models import Event
from tests.integrations.tables import customer_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.CDP_SYNC_RETRY_BASE_SECONDS = 0.01
    settings.CDP_SYNC_RETRY_MAX_SECONDS = 0.05
    settings.CDP_SYNC_RETRY_ATTEMPTS = 2


def _source(config: dict, name: str = "Customers DB"):
    return source_connector_create(name=name, kind="postgres_table", values=config)


def _run(source) -> SyncRun:
    run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    return sync_run_execute(run.pk)


def test_a_run_stores_every_row_as_an_identify_event(pg_tables):
    pg_tables.insert_customers(customer_rows(250))
    run = _run(_source(pg_tables.config()))
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.records_read, run.records_stored, run.records_unchanged) == (250, 250, 0)
    assert (run.progress_done, run.progress_total) == (250, 250)
    assert run.message == "Read 250 records: 250 stored, 0 unchanged, 0 failed."
    event = Event.objects.get(user_id="ext-7")
    assert event.type == "identify"
    assert event.traits == {
        "id": 7,
        "email": "person7@example.com",
        "name": "Person 7",
        "plan": "pro",
        "score": 7.5,
        "updated_at": "2026-01-01T00:02:00+00:00",
    }
    assert event.timestamp.isoformat() == "2026-01-01T00:02:00+00:00"
    assert Event.objects.filter(source_id=run.source_id).count() == 250


def test_the_next_run_reads_only_what_changed_and_ties_are_broken_by_the_key(pg_tables):
    pg_tables.insert_customers(customer_rows(250))
    source = _source(pg_tables.config())
    _run(source)
    # Same updated_at as the last rows already read, higher keys: still read.
    last_time = customer_rows(1, start=250)[0][6]
    pg_tables.insert_customers([(*row[:6], last_time) for row in customer_rows(2, start=251)])
    pg_tables.execute("UPDATE customers SET plan = 'gold', updated_at = now() WHERE id = 3")
    run = _run(source)
    assert (run.records_read, run.records_stored) == (3, 3)
    assert Event.objects.filter(source_id=source.pk).count() == 253
    assert Event.objects.filter(source_id=source.pk, user_id="ext-3").count() == 2


def test_two_runs_of_the_same_data_store_it_once(pg_tables):
    pg_tables.insert_customers(customer_rows(120))
    source = _source(pg_tables.config())
    _run(source)
    source.checkpoint = {}
    source.save()
    run = _run(source)
    assert (run.records_read, run.records_stored, run.records_unchanged) == (120, 0, 120)
    assert Event.objects.filter(source_id=source.pk).count() == 120


def test_an_orders_table_becomes_track_events(pg_tables):
    pg_tables.execute(
        "INSERT INTO orders VALUES (4512, 'Anna@Example.com', 129.90, 'EUR', "
        "'2026-02-03 10:00+00', '2026-02-03 10:05+00')"
    )
    config = pg_tables.config(
        table="orders",
        message_type="track",
        event_name="Order Completed",
        user_id_column="",
        email_column="customer_email",
        timestamp_column="placed_at",
    )
    run = _run(_source(config))
    assert run.status == SyncRun.Status.SUCCEEDED
    event = Event.objects.get(source_id=run.source_id)
    assert (event.type, event.event) == ("track", "Order Completed")
    assert event.anonymous_id == "orders:4512"
    assert event.properties["total"] == 129.9
    assert event.properties["currency"] == "EUR"
    assert event.context == {"traits": {"email": "Anna@Example.com"}}
    assert event.timestamp.isoformat() == "2026-02-03T10:00:00+00:00"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"table": "public.clients"}, "public.clients"),
        ({"updated_at_column": "modified"}, "“modified”"),
        ({"email_column": "mail"}, "“mail”"),
    ],
)
def test_a_missing_table_or_column_fails_the_run_naming_it(pg_tables, overrides, named):
    pg_tables.insert_customers(customer_rows(5))
    run = _run(_source(pg_tables.config(**overrides)))
    assert run.status == SyncRun.Status.FAILED
    assert named in run.message
    assert run.records_read == 0


def test_a_refused_password_fails_at_once(pg_tables):
    pg_tables.execute("CREATE ROLE cdp_reader LOGIN PASSWORD 'right'")
    try:
        run = _run(_source(pg_tables.config(user="cdp_reader", password="wrong")))
        assert run.status == SyncRun.Status.FAILED
        assert run.retries == 0
        assert "refused user “cdp_reader”" in run.message or "cdp_reader" in run.message
    finally:
        pg_tables.drop()
        pg_tables.execute_admin = None
        import psycopg

        from tests.integrations.tables import _pg_conninfo

        with psycopg.connect(**_pg_conninfo("postgres"), autocommit=True) as admin:
            admin.execute("DROP ROLE IF EXISTS cdp_reader")


def test_an_unreachable_server_is_retried_then_the_run_fails_saying_so(pg_tables):
    run = _run(_source(pg_tables.config(port=1)))
    assert run.status == SyncRun.Status.FAILED
    assert run.retries == 2
    assert "Could not reach PostgreSQL at" in run.message
    assert "Gave up after 3 tries" in run.message


def test_one_active_run_per_source(pg_tables):
    source = _source(pg_tables.config())
    sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    with pytest.raises(ConflictError):
        sync_run_start(source=source, trigger=SyncRun.Trigger.API)
    with pytest.raises(IntegrityError):
        SyncRun.objects.create(source=source, status=SyncRun.Status.RUNNING)


def test_a_queued_run_cancelled_never_runs(pg_tables):
    pg_tables.insert_customers(customer_rows(10))
    source = _source(pg_tables.config())
    run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    sync_run_cancel(run=run)
    assert sync_run_execute(run.pk) is None
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED
    assert Event.objects.filter(source_id=source.pk).count() == 0


def test_a_cancel_request_is_honoured_between_batches(pg_tables):
    pg_tables.insert_customers(customer_rows(300))
    source = _source(pg_tables.config())
    run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run = sync_run_execute(run.pk)
    assert run.status == SyncRun.Status.CANCELLED
    assert Event.objects.filter(source_id=source.pk).count() == 0
    # The next run starts from the last committed checkpoint: here, the beginning.
    assert _run(source).records_stored == 300


def test_running_a_task_twice_runs_the_run_once(pg_tables):
    pg_tables.insert_customers(customer_rows(10))
    source = _source(pg_tables.config())
    run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    assert sync_run_execute(run.pk).records_stored == 10
    assert sync_run_execute(run.pk) is None


def test_the_next_start_resumes_a_run_whose_worker_died(pg_tables):
    pg_tables.insert_customers(customer_rows(50))
    source = _source(pg_tables.config())
    stale = timezone.now() - timedelta(hours=1)
    lost = SyncRun.objects.create(
        source=source, status=SyncRun.Status.RUNNING, heartbeat_at=stale, claim_token="gone"
    )
    run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    assert run.pk == lost.pk
    assert (run.status, run.resumes) == (SyncRun.Status.QUEUED, 1)
    run = sync_run_execute(run.pk)
    assert (run.status, run.records_stored) == (SyncRun.Status.SUCCEEDED, 50)


def test_retry_delay_grows_is_capped_has_jitter_and_honours_retry_after(settings):
    settings.CDP_SYNC_RETRY_BASE_SECONDS = 2.0
    settings.CDP_SYNC_RETRY_MAX_SECONDS = 60.0
    first = [retry_delay(1, None) for _ in range(200)]
    assert all(1.0 <= d <= 2.0 for d in first)
    assert len(set(first)) > 1
    assert all(16.0 <= retry_delay(5, None) <= 32.0 for _ in range(50))
    assert all(retry_delay(20, None) <= 60.0 for _ in range(50))
    assert retry_delay(1, 7.0) == 7.0
    assert retry_delay(1, 500.0) == 60.0
