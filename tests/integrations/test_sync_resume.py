"""A run whose process is killed in the middle of a batch resumes from its last committed
checkpoint, and the events stored in the end equal a clean run's: nothing twice, nothing lost.

The executor runs in a real subprocess. To kill it mid-batch deterministically, the test holds a
row lock on the source (every batch's transaction updates it last): the subprocess blocks inside
an uncommitted batch, and is killed there.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from integrations.models import SyncRun
from integrations.sources import source_connector_create
from integrations.sync.runner import sync_run_start, sync_runs_sweep
from profiles.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000
EXECUTOR = (
    "import sys, django; django.setup(); "
    "from integrations.sync.runner import sync_run_execute; "
    "sync_run_execute(int(sys.argv[1]))"
)


def _wait(condition, what: str, timeout: float = 60.0, on_timeout=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    seen = on_timeout() if on_timeout else ""
    raise AssertionError(f"timed out waiting for {what} {seen}")


def _events(source_id: int) -> list[tuple]:
    return sorted(
        Event.objects.filter(source_id=source_id).values_list(
            "type", "user_id", "anonymous_id", "traits", "timestamp"
        ),
        key=repr,
    )


def test_a_killed_run_resumes_from_its_checkpoint_and_stores_what_a_clean_run_stores(
    pg_tables, settings
):
    pg_tables.execute(
        "INSERT INTO customers SELECT n, 'p' || n || '@example.com', 'ext-' || n, "
        "'Person ' || n, 'free', n %% 100, "
        "timestamptz '2026-01-01 00:00+00' + (n / 7) * interval '1 second' "
        "FROM generate_series(1, %s) n",
        (ROWS,),
    )
    source = source_connector_create(
        name="Killed", kind="postgres_table", values=pg_tables.config()
    )
    # Queued without publishing its task: here tasks run at once, and the subprocess must run it.
    run = SyncRun.objects.create(source=source, trigger=SyncRun.Trigger.MANUAL)

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cdp_site.test_settings",
        # The run's resolution requests go nowhere: no worker serves this test.
        "CELERY_BROKER_URL": "memory://",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
    }
    worker = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", EXECUTOR, str(run.pk)], cwd=ROOT, env=env
    )
    lock = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )
    try:
        _wait(lambda: SyncRun.objects.get(pk=run.pk).records_stored > 0, "the first stored batch")
        lock.execute("SELECT 1 FROM integrations_source WHERE id = %s FOR UPDATE", (source.pk,))
        blocked = _wait(
            lambda: lock.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            ).fetchone(),
            "the worker to block inside a batch",
            on_timeout=lambda: (
                SyncRun.objects.filter(pk=run.pk).values()[0]
                or lock.execute(
                    "SELECT pid, state, wait_event_type, left(query, 80) FROM pg_stat_activity "
                    "WHERE datname = current_database()"
                ).fetchall()
            ),
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        # The killed process's server session would otherwise go on once the lock is free.
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            dbname=db["NAME"],
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", blocked)
    finally:
        lock.rollback()
        lock.close()
        if worker.poll() is None:
            worker.kill()

    killed = SyncRun.objects.get(pk=run.pk)
    assert killed.status == SyncRun.Status.RUNNING
    assert 0 < killed.records_stored < ROWS
    stored_before = Event.objects.filter(source_id=source.pk).count()
    assert stored_before == killed.records_stored  # the batch it died in left nothing

    # The sweep finds it without a heartbeat and queues it; the (eager) task resumes it, in
    # bigger batches this time: the checkpoint does not depend on them.
    source.config = {**source.config, "batch_size": 2000}
    source.save()
    settings.CDP_SYNC_STALE_SECONDS = 0
    assert sync_runs_sweep() == 1
    resumed = SyncRun.objects.get(pk=run.pk)
    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.message
    assert resumed.resumes == 1
    assert resumed.records_stored == ROWS
    assert Event.objects.filter(source_id=source.pk).count() == ROWS

    clean = source_connector_create(
        name="Clean", kind="postgres_table", values=pg_tables.config(batch_size=2000)
    )
    settings.CDP_SYNC_STALE_SECONDS = 300
    clean_run = SyncRun.objects.get(pk=sync_run_start(source=clean, trigger="manual").pk)
    assert clean_run.records_stored == ROWS
    assert _events(source.pk) == _events(clean.pk)
