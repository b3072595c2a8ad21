"""The run loop of identity resolution: batch after batch, each in its own transaction, with
retries, and paused while a rebuild holds its advisory lock.

A worker claims its batch with `FOR NO KEY UPDATE SKIP LOCKED`, so two workers never resolve
the same event; the profiles a batch touches are locked in id order; two workers that create the
same identifier at once collide on the (kind, value) unique constraint, and the loser retries its
whole batch, now seeing the other's profile. A resolved event is never claimed again, so running
the task twice does nothing the second time.
"""

import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from cdp_site import db

from ..models import Event, Profile
from ..normalise import RuleBook, event_identifiers
from ..signals import events_resolved, profiles_merged
from . import store
from .matching import Batch

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


def _resolve_batch(
    batch_size: int, rules: RuleBook, after: tuple[datetime, int] | None
) -> tuple[list[dict], list[int], list[tuple[int, int]]]:
    """Resolve one batch in one transaction; returns (events, changed profiles, merges).

    Nothing while a `rebuild` runs in another session (see `rebuild_lock`): its last step
    renumbers every profile, and a batch resolved meanwhile would be left out of it.
    """
    with transaction.atomic():
        if not _rebuild_allows_resolution():
            logger.info("identity resolution waits: a rebuild is running")
            return [], [], []
        events = store.events_claim(batch_size, after)
        if not events:
            return [], [], []
        extracted = [event_identifiers(e, rules) for e in events]
        batch = Batch(rules)
        store.batch_load(batch, {pair for pairs in extracted for pair in pairs})
        for event, pairs in zip(events, extracted, strict=True):
            profile = batch.resolve(event, pairs)
            batch.attach(event, profile, pairs)
        now = timezone.now()
        changed, merges = store.batch_write(batch, now)
        # Events without a single usable identifier (all blocked) are resolved to no profile.
        store.events_resolved_to_nobody(
            [e["id"] for e in events if e["id"] not in batch.assignments], now
        )
    return events, changed, merges


# An advisory lock: resolution batches hold it shared, a rebuild holds it exclusively for its
# whole run. Any constant does; this one is "cdp.profiles" spelled in ASCII.
REBUILD_LOCK_KEY = 0x6364702E70726F66


def _rebuild_allows_resolution() -> bool:
    """Take the shared side of the rebuild lock for this batch's transaction, if free."""
    if not db.on_postgresql():
        return True  # SQLite: one process, no concurrent rebuild to guard against
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", [REBUILD_LOCK_KEY])
        return bool(cursor.fetchone()[0])


@contextmanager
def rebuild_lock() -> Iterator[None]:
    """Hold the rebuild lock for this session: other sessions resolve nothing until it ends.

    Waits for batches in flight to commit. The session's own batches still resolve: a
    session never conflicts with a lock it holds.
    """
    if not db.on_postgresql():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [REBUILD_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK_KEY])


def _announce(event_ids: list[int], changed: list[int], merges: list[tuple[int, int]]) -> None:
    """Tell the other apps about a committed batch: `profiles_merged`, then `events_resolved`.

    Outside the batch's own retry: the batch is committed by now, and counting a receiver's
    failure as the batch's would leave its events resolved but never announced. Receivers are
    idempotent (consent capture skips recorded choices), so a deadlocked one is sent again.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            if merges:
                profiles_merged.send(sender=Profile, merges=list(merges))
            events_resolved.send(sender=Event, profile_ids=changed, event_ids=event_ids)
            return
        except (IntegrityError, OperationalError) as exc:
            if attempt == MAX_ATTEMPTS:
                raise
            logger.info("resolution announcement sent again after %s: %s", type(exc).__name__, exc)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during one batch; it runs as usual between batches.

    A batch allocates tens of thousands of dicts and tuples that live until its end, so the
    collector kept walking them (and the whole Django heap) for nothing: a fifth of the
    resolver's Python time. Reference counting still frees everything as it goes.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def events_resolve_pending(
    *,
    batch_size: int = 5000,
    max_batches: int | None = None,
    progress: Callable[[int], None] | None = None,
    announce: bool = True,
) -> int:
    """Resolve every event with no profile yet, batch by batch; returns how many were resolved.

    `max_batches` stops early; `progress(resolved so far)` is called after each batch;
    `announce=False` sends no signal per batch (a rebuild tells the other apps once, at its end).

    Idempotent and safe to run in several workers at once (see the module docstring).
    """
    rules = RuleBook.load()
    total = 0
    attempts = 0
    batches = 0
    after: tuple[datetime, int] | None = None
    while max_batches is None or batches < max_batches:
        try:
            with _cyclic_gc_paused():
                events, changed, merges = _resolve_batch(batch_size, rules, after)
        except (store.RetryBatchError, IntegrityError, OperationalError) as exc:
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                raise
            logger.info("identity resolution batch retried after %s: %s", type(exc).__name__, exc)
            continue
        attempts = 0
        if not events:
            return total
        event_ids = [e["id"] for e in events]
        if announce:
            # Immediately when the batch committed on its own; at the caller's commit otherwise.
            transaction.on_commit(lambda ids=event_ids, c=changed, m=merges: _announce(ids, c, m))
        total += len(events)
        batches += 1
        after = (events[-1]["timestamp"], events[-1]["id"])
        if progress is not None:
            progress(total)
    return total
