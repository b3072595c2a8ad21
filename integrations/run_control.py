"""Cancel and retry for every kind of run (a source's sync, an audience sync, event forwarding),
so pages and the API act on a run without knowing which runner owns it."""

from cdp_site.errors import ConflictError

from .activation.forwarding import event_forward_run_cancel, event_forward_run_start
from .activation.runner import audience_run_cancel, audience_sync_run_start
from .models import SyncRun
from .sync.runner import sync_run_cancel, sync_run_retry

Kind = SyncRun.Kind


def run_cancel(run: SyncRun) -> SyncRun:
    """Cancel a queued run at once, a running one after its current batch; ConflictError once
    it has ended."""
    if run.kind == Kind.AUDIENCE:
        return audience_run_cancel(run)
    if run.kind == Kind.FORWARD:
        return event_forward_run_cancel(run)
    return sync_run_cancel(run=run)


def run_retry(run: SyncRun, user=None) -> SyncRun:
    """A new run of what a failed or cancelled run was doing; it continues where the work
    stopped (a source from its checkpoint, an audience from what the destination holds, a
    forward from its last forwarded event)."""
    if run.status not in (SyncRun.Status.FAILED, SyncRun.Status.CANCELLED):
        raise ConflictError("Only a failed or cancelled run can be retried.", code="run_not_ended")
    if run.kind == Kind.AUDIENCE:
        return audience_sync_run_start(
            sync=run.audience_sync, trigger=SyncRun.Trigger.MANUAL, user=user
        )
    if run.kind == Kind.FORWARD:
        return event_forward_run_start(
            forward=run.event_forward, trigger=SyncRun.Trigger.MANUAL, user=user
        )
    return sync_run_retry(run=run, user=user)
