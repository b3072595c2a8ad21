"""A worker killed mid-run: the run resumes from its checkpoint and an idempotent receiver takes
each record exactly once, including the batch that was delivered but not yet recorded."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import AudienceSyncMember, SyncRun
from integrations.sync.runner import sync_runs_sweep
from tests.integrations.protocol_servers.webhook import WebhookReceiver

from .conftest import (
    SECRET,
    consent_set,
    profiles_make,
    queued_run,
    sync_make,
    vip_segment,
    webhook_destination,
)

ROOT = Path(__file__).resolve().parents[3]
BATCH = 5
PEOPLE = 30


class StopsAnswering(WebhookReceiver):
    """Applies the first `answer` batches normally, then applies the next one and does not
    answer: the worker dies (is killed) after the destination took the batch."""

    def __init__(self, answer: int, **kwargs):
        super().__init__(**kwargs)
        self.answer = answer
        self.stuck = threading.Event()
        self.release = threading.Event()

    def handle(self, request):
        reply = super().handle(request)
        if len(self.batches_applied) > self.answer and not self.release.is_set():
            self.stuck.set()
            self.release.wait(30)
        return reply


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_resumes_and_each_record_arrives_once(settings):
    settings.CDP_AUDIENCE_BATCH_SIZE = BATCH
    people = profiles_make(PEOPLE)
    consent_set([p.pk for p in people], True)
    segment = vip_segment()
    with StopsAnswering(answer=2, secret=SECRET) as receiver:
        sync = sync_make(segment, webhook_destination(receiver))
        run = queued_run(sync)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cdp_site.test_settings",
            "DATABASE_URL": _database_url(),
            "CDP_AUDIENCE_BATCH_SIZE": str(BATCH),
        }
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from integrations.activation.runner import audience_sync_run_execute; "
                f"audience_sync_run_execute({run.pk})",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            assert receiver.stuck.wait(60), "the worker never reached the third batch"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
            receiver.release.set()
        run.refresh_from_db()
        assert run.status == SyncRun.Status.RUNNING
        assert run.checkpoint["next_batch"] == 2
        assert AudienceSyncMember.objects.filter(sync=sync).count() == 2 * BATCH
        # The worker is gone: no heartbeat for longer than the stale limit.
        SyncRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now() - timedelta(seconds=settings.CDP_SYNC_STALE_SECONDS + 1)
        )
        # The sweep queues it again; the task (inline here) continues from the checkpoint.
        assert sync_runs_sweep() >= 1
        resumed = SyncRun.objects.get(pk=run.pk)
        assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.message
        assert resumed.resumes == 1
        assert receiver.member_ids(sync.audience_key) == {p.pk for p in people}
        # The third batch came twice under one id and was applied once.
        assert receiver.duplicate_batches == 1
        assert sum(receiver.message_ids.values()) == PEOPLE
        assert set(receiver.message_ids.values()) == {1}
        assert AudienceSyncMember.objects.filter(sync=sync).count() == PEOPLE


def _database_url() -> str:
    conf = connection.settings_dict
    return f"postgres://{conf['USER']}@{conf['HOST']}:{conf['PORT']}/{conf['NAME']}"


if connection.vendor != "postgresql":  # pragma: no cover
    pytestmark = pytest.mark.skip("needs PostgreSQL")
