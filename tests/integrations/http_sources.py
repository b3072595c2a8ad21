"""What the HTTP source tests share: a source pointed at a protocol server, a run through the
framework's runner, the events a source stored, and a run whose worker is killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from integrations.models import Source, SyncRun
from integrations.sources import source_connector_create
from integrations.sync.runner import sync_run_execute, sync_run_start
from profiles.models import Event

ROOT = Path(__file__).resolve().parents[2]
# Events compared between runs: everything but the ids and times of storage.
EVENT_FIELDS = ("type", "event", "user_id", "anonymous_id", "traits", "properties", "context")


def source_create(kind: str, name: str = "", **values) -> Source:
    return source_connector_create(name=name or f"{kind} source", kind=kind, values=values)


def run(source: Source) -> SyncRun:
    """One run of the source, to its end, in this process."""
    started = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    sync_run_execute(started.pk)
    return SyncRun.objects.get(pk=started.pk)


def stored(source: Source) -> list[tuple]:
    """The source's events as comparable tuples, sorted."""
    rows = Event.objects.filter(source_id=source.pk).values_list(*EVENT_FIELDS, "timestamp")
    return sorted(repr(row) for row in rows)


def run_killed_then_resumed(
    source: Source, server, *, kill_at_request: int, committed_done: int
) -> SyncRun:
    """A run whose worker process is killed (SIGKILL) while it waits for request number
    `kill_at_request`, once it has committed batches reading `committed_done` records of the
    source; then the run is found stale and resumed by the next start, in this process. Needs
    committed data (a transactional test)."""
    # The run row alone: starting it through the service would run it here (tasks are eager in
    # tests), and this run must be executed by the worker process to be killed.
    run = SyncRun.objects.create(source=source, trigger=SyncRun.Trigger.MANUAL)
    server.hold_at(kill_at_request)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "cdp_site.test_settings",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "PYTHONPATH": str(ROOT),
    }
    code = (
        "import django; django.setup(); "
        "from integrations.sync.runner import sync_run_execute; "
        f"sync_run_execute({run.pk})"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)  # noqa: S603
    try:
        if not server.held.wait(timeout=60):
            raise AssertionError("the worker never reached the request to be killed at")
        # The batches before the held request are stored while it waits (reading ahead).
        deadline = time.monotonic() + 60
        while (SyncRun.objects.get(pk=run.pk).progress_done or 0) < committed_done:
            if time.monotonic() > deadline:
                raise AssertionError("the worker never stored the batches before the kill")
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        server.release()
    killed = SyncRun.objects.get(pk=run.pk)
    assert killed.status == SyncRun.Status.RUNNING, killed.message
    # Its heartbeat is old enough to count as a lost worker.
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=killed.heartbeat_at.replace(year=2000))
    resumed = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    assert resumed.pk == run.pk
    if SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.QUEUED:
        sync_run_execute(run.pk)
    return SyncRun.objects.get(pk=run.pk)


def _database_url() -> str:
    settings = connection.settings_dict
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    user = settings.get("USER") or "postgres"
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"
