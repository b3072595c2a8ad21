"""Retention: events older than their source's period (or the default) are deleted by a
scheduled task. Where the event table is partitioned by month and a default period covers every
source, the months wholly older than the longest period are dropped whole first (every event in
them is past its period, whatever its source); the rest goes in bounded batches, so a run never
holds a long lock and stops at a budget (the next run continues). Profiles delete their own
events (`profiles.erasure`, `profiles.event_partitions`)."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from cdp_site.errors import InvalidInputError
from profiles.erasure import events_delete_before
from profiles.event_partitions import event_partitions_drop_before

from .models import RetentionPolicy, RetentionRun

BATCH_SIZE = 5000
MAX_BATCHES = 40
MAX_DAYS = 36500
RUN_EVERY_SECONDS = 6 * 3600
# The key in a run's detail of the events removed with whole months.
PAST_EVERY_PERIOD = "past every period"


def retention_policy_set(*, source_id: int | None, days: int | None) -> RetentionPolicy | None:
    """Set (or, with no days, remove) the period of a source, or the default (no source)."""
    if days is None:
        RetentionPolicy.objects.filter(source_id=source_id).delete()
        return None
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"Keep events from 1 to {MAX_DAYS} days.", field="days")
    with transaction.atomic():
        policy = RetentionPolicy.objects.select_for_update().filter(source_id=source_id).first()
        if policy is None:
            return RetentionPolicy.objects.create(source_id=source_id, days=days)
        policy.days = days
        policy.save(update_fields=["days", "updated_at"])
        return policy


def retention_apply(
    *, batch_size: int = BATCH_SIZE, max_batches: int = MAX_BATCHES, now: dt.datetime | None = None
) -> RetentionRun:
    """Delete what is past its period, source by source, at most `max_batches` batches."""
    now = now or timezone.now()
    run = RetentionRun.objects.create(started_at=now)
    policies = list(RetentionPolicy.objects.order_by("source_id"))
    own = [p for p in policies if p.source_id is not None]
    default = next((p for p in policies if p.source_id is None), None)
    plan = [(str(p.source_id), [p.source_id], (), p.days) for p in own]
    if default is not None:
        plan.append(("default", None, [p.source_id for p in own], default.days))
    batches, detail, more = 0, {}, False
    if default is not None:
        # Sources without a period of their own follow the default, so nothing is kept longer
        # than the longest period: older months go whole.
        longest = max(p.days for p in policies)
        months = event_partitions_drop_before(before=now - dt.timedelta(days=longest))
        if months:
            detail[PAST_EVERY_PERIOD] = sum(months.values())
    for key, sources, exclude, days in plan:
        before = now - dt.timedelta(days=days)
        while True:
            if batches >= max_batches:
                more = True
                break
            deleted = events_delete_before(
                before=before, source_ids=sources, exclude_source_ids=exclude, limit=batch_size
            )
            batches += 1
            detail[key] = detail.get(key, 0) + deleted
            if deleted < batch_size:
                break
        if more:
            break
    run.detail, run.more = detail, more
    run.deleted = sum(detail.values())
    run.finished_at = timezone.now()
    run.save(update_fields=["detail", "more", "deleted", "finished_at"])
    return run
