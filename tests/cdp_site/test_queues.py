"""Work runs on one queue per workload, and a dead broker neither slows requests nor strands work.

The worker tests start real Celery workers against a Redis server of their own (so they can
stop it) and the test database, so they run on PostgreSQL only (SQLite's test database lives in
the test process's memory).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery import Celery, Task
from django.db import connection
from kombu.exceptions import OperationalError

from cdp_site import celery_app
from cdp_site.celery import broker_health
from cdp_site.queues import TASK_QUEUES, TASK_ROUTES, queue_for
from profiles.models import Event
from tests.factories import EventFactory, SourceFactory

ROOT = Path(__file__).resolve().parents[2]

# Every task the project defines, and the queue it must run on.
EXPECTED_QUEUES = {
    "profiles.resolve_events": "resolution",
    "profiles.consolidate_links": "resolution",
    "profiles.event_partitions_ensure": "default",
    "profiles.computed_traits_compute": "insights",
    "profiles.computed_traits_refresh": "insights",
    "profiles.insights_rfm_recompute": "insights",
    "profiles.insights_churn_train": "insights",
    "profiles.insights_dashboard_refresh": "insights",
    "segments.insights_dashboard_refresh": "insights",
    "integrations.insights_dashboard_refresh": "insights",
    "compliance.insights_dashboard_refresh": "insights",
    "segments.refresh_membership": "segments",
    "segments.refresh_pending": "segments",
    "segments.refresh_all": "segments",
    "profiles.refresh_catalogue": "segments",
    "profiles.catalogue_learn_batch": "segments",
    "compliance.request_execute": "compliance",
    "compliance.retention_apply": "compliance",
    "cdp_site.worker_ping": "default",
    "integrations.sync_run": "syncs",
    "integrations.sync_runs_sweep": "syncs",
    "integrations.sync_scheduled": "syncs",
    "integrations.audience_sync_run": "syncs",
    "integrations.audience_syncs_due": "syncs",
    "integrations.event_forwards_due": "syncs",
    "integrations.csv_uploads_expire": "syncs",
    "integrations.audience_realtime": "syncs",
    "integrations.event_forward_run": "syncs",
}


def test_every_task_has_its_expected_queue():
    # The workers' way of finding every app's tasks module.
    celery_app.loader.import_default_modules()
    project_tasks = {
        name
        for name in celery_app.tasks
        if name.split(".", 1)[0]
        in {"profiles", "segments", "integrations", "compliance", "cdp_site"}
    }
    assert project_tasks == set(EXPECTED_QUEUES)
    for name, queue in EXPECTED_QUEUES.items():
        assert queue_for(name) == queue
        # Celery's own router agrees with ours.
        assert celery_app.amqp.router.route({}, name)["queue"].name == queue


def test_a_worker_without_queues_named_serves_every_queue():
    assert {queue.name for queue in celery_app.conf.task_queues} == {
        "resolution",
        "segments",
        "syncs",
        "compliance",
        "insights",
        "default",
    }
    assert celery_app.conf.task_default_queue == "default"


# -- Broker down: requests skip publishing while it is known to be down -------------------------


@pytest.mark.django_db
def test_with_the_broker_down_requests_stop_trying_to_publish(
    client, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.CDP_BROKER_RETRY_SECONDS = 60
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(self.name)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", refuse)
    source = SourceFactory()
    for n in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/v1/track",
                {"userId": "u1", "event": "Clicked", "messageId": f"m{n}"},
                content_type="application/json",
                HTTP_AUTHORIZATION=_basic(source.write_key),
            )
        assert response.status_code == 200
    # The first request found the broker down; the four after it did not wait on it again.
    assert attempts == ["profiles.resolve_events"]
    assert Event.objects.filter(source_id=source.pk, resolved_at__isnull=True).count() == 5

    # Once the retry interval has passed, the next request tries again.
    broker_health.down_until = 0.0
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/v1/track",
            {"userId": "u1", "event": "Clicked", "messageId": "m5"},
            content_type="application/json",
            HTTP_AUTHORIZATION=_basic(source.write_key),
        )
    assert attempts == ["profiles.resolve_events"] * 2


def _basic(key: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


# -- Real workers against a Redis server of the test's own -------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throw-away redis-server that a test can stop and start again on the same port."""

    def __init__(self, workdir: Path):
        self.port = _free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        _wait_for(lambda: _pings(client), "redis-server to start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def redis_server(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database_url():
    if connection.vendor != "postgresql":
        pytest.skip("real workers share the test database only on PostgreSQL")
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def start_worker(tmp_path, database_url):
    workers: list[subprocess.Popen] = []

    def start(broker_url: str, *args: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "CDP_VAR_DIR": str(tmp_path),
            "CELERY_BROKER_URL": broker_url,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "cdp_site.settings",
        }
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        log = (tmp_path / f"worker-{len(workers)}.log").open("w")
        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "cdp_site", "worker", "--concurrency=1", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append(worker)
        _wait_for(lambda: "ready." in Path(log.name).read_text(), "the worker to be ready")
        return worker

    yield start
    for worker in workers:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def _unresolved(source) -> int:
    return Event.objects.filter(source_id=source.pk, resolved_at__isnull=True).count()


@pytest.mark.django_db(transaction=True)
def test_resolution_does_not_wait_behind_segment_refreshes(redis_server, start_worker, monkeypatch):
    source = SourceFactory()
    EventFactory.create_batch(3, source=source, type="identify", user_id="u-1")
    # Celery reads CELERY_BROKER_URL from the environment before the broker it is given.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    sender = Celery("queue-test", broker=redis_server.url, set_as_current=False)
    sender.conf.task_queues = TASK_QUEUES
    sender.conf.task_routes = TASK_ROUTES
    # A refresh waits in its queue, and no segments worker runs: resolution must not care.
    sender.send_task("segments.refresh_all")
    start_worker(redis_server.url, "-Q", "resolution")
    _wait_for(lambda: _unresolved(source) == 0, "the resolution worker to resolve the events")
    queues = redis.Redis(port=redis_server.port)
    waiting = [json.loads(raw)["headers"]["task"] for raw in queues.lrange("segments", 0, -1)]
    # Still there, beside the real-time refresh that resolving those events asked for.
    assert "segments.refresh_all" in waiting
    assert queues.llen("resolution") == 0


@pytest.mark.django_db(transaction=True)
def test_resolution_catches_up_without_beat_when_the_broker_returns(redis_server, start_worker):
    source = SourceFactory()
    EventFactory(source=source, type="identify", user_id="u-1")
    start_worker(redis_server.url)
    # The sweep the worker queued as it started has run, and has had time to finish.
    _wait_for(lambda: _unresolved(source) == 0, "the start-up sweep")
    time.sleep(2)
    redis_server.stop()
    # Accepted while the broker is down: committed, but no task could be queued for them.
    EventFactory.create_batch(4, source=source, type="identify", user_id="u-2")
    time.sleep(3)
    assert _unresolved(source) == 4
    redis_server.start()
    # No beat runs and nothing else publishes: the worker's reconnect queues the sweep.
    _wait_for(lambda: _unresolved(source) == 0, "the events to be resolved after the outage")
