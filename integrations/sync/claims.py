"""Which worker executes a run: a queued run is claimed with a token, and every later commit of
that worker checks the token, so a second task for the same run, or a run resumed elsewhere after
its worker was thought dead, never commits twice."""

import uuid

from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.models import SyncRun


class RunLostError(Exception):
    """The run was cancelled, or claimed by another worker: stop without committing more."""


def run_claim(run_id: int, kind: str) -> str | None:
    """Mark a queued run of `kind` running and return this worker's token; None when the run is
    not queued (another task took it, or it ended)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED, kind=kind).update(
        status=SyncRun.Status.RUNNING,
        claim_token=token,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    return token if claimed else None


def run_locked(run_id: int, token: str) -> SyncRun:
    """The run, locked for this transaction; RunLostError unless this worker still holds it."""
    run = SyncRun.objects.select_for_update().get(pk=run_id)
    if run.claim_token != token or run.status != SyncRun.Status.RUNNING:
        raise RunLostError
    return run
