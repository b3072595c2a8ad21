"""The System page: the resolution backlog (read through the unresolved-events index), the
queue lengths the broker reports (Redis, the embedded filesystem broker, or why it cannot), the
tasks that failed in the last day, and beat's last run; refreshed by htmx."""

import datetime as dt

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from cdp_site import celery_app
from cdp_site import system as system_module
from cdp_site.models import TaskFailure
from cdp_site.queues import TASK_QUEUES, TASK_ROUTES, WorkQueue
from profiles import backlog as backlog_module
from profiles.models import Event
from tests.cdp_site.test_queues import redis_server  # noqa: F401 - a fixture
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _broker_from_the_test(monkeypatch):
    """Celery reads CELERY_BROKER_URL before any broker an app is given (CI sets it): these tests
    give their own."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


def _broker_app(url: str, **options) -> Celery:
    app = Celery("system-test", broker=url, set_as_current=False)
    app.conf.task_queues = TASK_QUEUES
    app.conf.task_routes = TASK_ROUTES
    app.conf.task_default_queue = WorkQueue.DEFAULT.value
    app.conf.broker_connection_timeout = 1
    app.conf.broker_transport_options = options
    return app


def _publish(app: Celery, name: str, times: int = 1) -> None:
    for _ in range(times):
        app.send_task(name)


def test_the_backlog_counts_waiting_events_and_the_oldest_age(client_for, integration_admin):
    now = timezone.now()
    EventFactory(received_at=now - dt.timedelta(hours=3), timestamp=now)
    EventFactory(received_at=now - dt.timedelta(minutes=5), timestamp=now - dt.timedelta(days=1))
    EventFactory(resolved_at=now, received_at=now - dt.timedelta(days=9))
    backlog = backlog_module.resolution_backlog()
    assert (backlog.waiting, backlog.capped, backlog.exact_age) == (2, False, True)
    assert backlog.oldest_received_at == now - dt.timedelta(hours=3)
    page = client_for(integration_admin).get("/system/resolution/").content.decode()
    assert '<dd id="backlog-waiting">2</dd>' in page
    assert "3\xa0hours" in page


def test_a_large_backlog_is_counted_up_to_a_cap(monkeypatch):
    monkeypatch.setattr(backlog_module, "BACKLOG_COUNT_CAP", 2)
    monkeypatch.setattr(backlog_module, "BACKLOG_EXACT_AGE_MAX", 1)
    now = timezone.now()
    EventFactory(received_at=now - dt.timedelta(hours=1), timestamp=now - dt.timedelta(days=2))
    EventFactory(received_at=now - dt.timedelta(hours=5), timestamp=now)
    EventFactory(received_at=now, timestamp=now)
    backlog = backlog_module.resolution_backlog()
    assert (backlog.waiting, backlog.capped, backlog.exact_age) == (2, True, False)
    # The next in line (earliest event time), not the earliest arrival.
    assert backlog.oldest_received_at == now - dt.timedelta(hours=1)


def test_no_backlog_says_so(client_for, integration_admin):
    EventFactory(resolved_at=timezone.now())
    page = client_for(integration_admin).get("/system/resolution/").content.decode()
    assert "No event is waiting" in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL query plan")
def test_the_backlog_reads_an_index_not_the_event_table():
    EventFactory.create_batch(3)
    waiting = Event.objects.filter(resolved_at__isnull=True).order_by()
    count_sql, params = waiting.values("id")[:100_001].query.sql_with_params()
    first_sql, first_params = (
        waiting.order_by("timestamp", "id").values("received_at")[:1].query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plans = []
        for sql, args in ((count_sql, params), (first_sql, first_params)):
            cursor.execute("EXPLAIN " + sql, args)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    for plan in plans:
        # Without sequential scans, only an index can serve it: the partial one of unresolved
        # events (on each partition of the table).
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan


def test_queue_lengths_of_the_embedded_filesystem_broker(tmp_path, monkeypatch):
    folder = tmp_path / "queue"
    folder.mkdir()
    app = _broker_app(
        "filesystem://",
        data_folder_in=str(folder),
        data_folder_out=str(folder),
        control_folder=str(tmp_path / "control"),
    )
    _publish(app, "segments.refresh_all", 2)
    _publish(app, "profiles.resolve_events", 1)
    monkeypatch.setattr(system_module, "app", app)
    report = system_module.queue_lengths()
    assert report.problem == ""
    assert report.transport == "filesystem"
    assert report.lengths == {
        WorkQueue.RESOLUTION.value: 1,
        WorkQueue.SEGMENTS.value: 2,
        WorkQueue.SYNCS.value: 0,
        WorkQueue.COMPLIANCE.value: 0,
        WorkQueue.INSIGHTS.value: 0,
        WorkQueue.DEFAULT.value: 0,
    }


def test_queue_lengths_of_a_redis_broker(redis_server, monkeypatch):  # noqa: F811
    app = _broker_app(redis_server.url)
    _publish(app, "integrations.sync_runs_sweep", 3)
    _publish(app, "cdp_site.worker_ping", 1)
    monkeypatch.setattr(system_module, "app", app)
    report = system_module.queue_lengths()
    assert report.problem == ""
    assert report.lengths["syncs"] == 3
    assert report.lengths["default"] == 1
    # Redis keeps no empty list: a queue nothing was sent to counts as empty.
    assert report.lengths["resolution"] == 0


def test_a_broker_that_cannot_be_reached_is_said_so(client_for, integration_admin, monkeypatch):
    monkeypatch.setattr(system_module, "app", _broker_app("redis://127.0.0.1:1/0"))
    report = system_module.queue_lengths()
    assert report.lengths == {}
    assert "could not be reached" in report.problem
    monkeypatch.setattr("cdp_site.views.queue_lengths", lambda: report)
    page = client_for(integration_admin).get("/system/").content.decode()
    assert 'id="queues-problem"' in page


def test_failed_tasks_are_recorded_and_counted_for_a_day(client_for, integration_admin):
    @celery_app.task(name="tests.always_fails")
    def always_fails():
        raise ValueError("the remote answered 500")

    # Run as a worker runs it: the error is handled (and signalled), not raised to the caller.
    for _ in range(2):
        assert always_fails.apply(throw=False).failed()
    failure = TaskFailure.objects.first()
    assert failure.task_name == "tests.always_fails"
    assert failure.error == "ValueError: the remote answered 500"
    TaskFailure.objects.create(
        task_name="tests.old", error="old", failed_at=timezone.now() - dt.timedelta(days=2)
    )
    page = client_for(integration_admin).get("/system/").content.decode()
    assert '<strong class="error" id="failed-count">2</strong>' in page
    assert "the remote answered 500" in page
    assert "tests.old" not in page


def test_failures_older_than_a_week_are_pruned():
    from cdp_site.task_failures import task_failure_record

    TaskFailure.objects.create(
        task_name="ancient", error="", failed_at=timezone.now() - dt.timedelta(days=8)
    )
    task_failure_record(task_name="new", task_id="1", error=RuntimeError("x"))
    assert list(TaskFailure.objects.values_list("task_name", flat=True)) == ["new"]


def test_the_last_beat_run_is_shown_readably(client_for, integration_admin):
    client = client_for(integration_admin)
    assert "Beat has not started any scheduled task yet" in client.get("/system/").content.decode()
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    ran_at = timezone.now() - dt.timedelta(minutes=2)
    PeriodicTask.objects.create(
        name="resolve-sweep", task="profiles.resolve_events", interval=every, last_run_at=ran_at
    )
    page = client.get("/system/").content.decode()
    assert "(resolve-sweep, " + ran_at.strftime("%Y-%m-%d %H:%M") + " UTC)" in page
    assert "2\xa0minutes ago" in page
    assert "is beat running" not in page
    PeriodicTask.objects.update(last_run_at=timezone.now() - dt.timedelta(hours=1))
    assert "is beat running" in client.get("/system/").content.decode()


def test_the_page_refreshes_itself_and_serves_its_fragment(client_for, integration_admin):
    client = client_for(integration_admin)
    page = client.get("/system/").content.decode()
    assert 'hx-trigger="every 10s"' in page
    assert 'hx-get="/system/resolution/" hx-trigger="load, every 10s"' in page
    fragment = client.get("/system/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.strip().startswith('<div id="status"')
    assert "<html" not in fragment


def test_the_worker_answer_time_is_readable(client_for, integration_admin, monkeypatch):
    from celery.result import AsyncResult

    answered = "2026-05-01T10:20:30.123456+00:00"
    monkeypatch.setattr(AsyncResult, "successful", lambda self: True)
    monkeypatch.setattr(
        AsyncResult, "result", property(lambda self: {"worker": "w1", "answered_at": answered})
    )
    monkeypatch.setattr(AsyncResult, "state", property(lambda self: "SUCCESS"))
    page = (
        client_for(integration_admin)
        .get("/system/worker-check/4d6f0e0e-8a53-4bb5-9d3b-3d1f1b1e0c11/")
        .content.decode()
    )
    assert "10:20:30 UTC" in page
    assert ">" + answered not in page
