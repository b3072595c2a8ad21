"""The run loop of identity resolution: batch after batch, each in its own transaction, with
retries, and paused while a rebuild holds its advisory lock.

A worker claims its batch with `FOR NO KEY UPDATE SKIP LOCKED`, so two workers never resolve
the same event; the profiles a batch touches are locked in id order; two workers that create the
same identifier at once collide on the (kind, value) unique constraint, and the loser retries its
whole batch, now seeing the other's profile. A resolved event is never claimed again, so running
the task twice does nothing the second time.

On PostgreSQL the work is also split between the workers running at once, so that they resolve
different people rather than queue on each other's profile locks: each event falls in one of
`store.SHARDS` shards by a hash of its first identifier, each run holds a resolver slot (an
advisory lock) for its duration, and each batch takes, with transaction-level advisory locks, the
shards that fall to its slot among the slots held (with two workers, every other shard). Two
workers therefore never work on the same first identifier at once; a person whose events carry
different first identifiers (an anonymous id, then a user id) may still meet both workers, and the
locks above keep that correct. A worker whose shards are empty takes any free shard, so one
worker alone, or the last one still running, resolves everything, in event-time order as before.
"""

import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from cdp_site import db

from ..models import Event, Profile
from ..normalise import RuleBook, event_identifiers
from ..signals import events_resolved, profiles_merged
from . import store
from .matching import Batch

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


# Where a run's previous batch ended, per set of shards it claimed from (None: every shard).
Cursors = dict[tuple[int, ...] | None, tuple[datetime, int]]


def _resolve_batch(
    batch_size: int, rules: RuleBook, cursors: Cursors, slot: int | None
) -> tuple[list[dict], list[int], list[tuple[int, int]], tuple[int, ...] | None]:
    """Resolve one batch in one transaction; returns (events, changed profiles, merges, the
    shards the events were claimed from).

    Nothing while a `rebuild` runs in another session (see `rebuild_lock`): its last step
    renumbers every profile, and a batch resolved meanwhile would be left out of it.
    """
    with transaction.atomic():
        if not _rebuild_allows_resolution():
            logger.info("identity resolution waits: a rebuild is running")
            return [], [], [], None
        events, shards = _claim(batch_size, cursors, slot)
        if not events:
            return [], [], [], None
        extracted = [event_identifiers(e, rules) for e in events]
        batch = Batch(rules)
        store.batch_load(batch, {pair for pairs in extracted for pair in pairs})
        for event, pairs in zip(events, extracted, strict=True):
            profile = batch.resolve(event, pairs)
            batch.attach(event, profile, pairs)
        now = timezone.now()
        # Claimed in event-time order: the batch's first and last event times bound it.
        between = (events[0]["timestamp"], events[-1]["timestamp"])
        changed, merges = store.batch_write(batch, now, between)
        # Events without a single usable identifier (all blocked) are resolved to no profile.
        store.events_resolved_to_nobody(
            [e["id"] for e in events if e["id"] not in batch.assignments], now, between
        )
    return events, changed, merges, shards


def _claim(
    batch_size: int, cursors: Cursors, slot: int | None
) -> tuple[list[dict], tuple[int, ...] | None]:
    """Claim a batch from the shards that fall to this run's slot, else from any free shard,
    each set of shards from where this run's last batch from it ended; (events, shards)."""
    for shards in _shards_take(slot):
        events = store.events_claim(batch_size, cursors.get(shards), shards)
        if events:
            return events, shards
    return [], None


# Advisory locks in the two-key form (apart from the rebuild lock's one-key form): a run holds
# one resolver slot, and each batch the shards it claims from, until its commit.
_SLOT_LOCKS = 0x63647052  # "cdpR"
_SHARD_LOCKS = 0x63647053  # "cdpS"
MAX_RESOLVERS = 64


@contextmanager
def _resolver_slot() -> Iterator[int | None]:
    """Hold a resolver slot for this run (PostgreSQL; None elsewhere): how runs count each other."""
    if not db.on_postgresql():
        yield None
        return
    # The scan stops at the first slot it could lock: one slot taken, the lowest free.
    rows = db.fetchall(
        "SELECT n FROM generate_series(0, %s) AS n WHERE pg_try_advisory_lock(%s, n) LIMIT 1",
        [MAX_RESOLVERS - 1, _SLOT_LOCKS],
    )
    slot = rows[0][0] if rows else None
    try:
        yield slot
    finally:
        if slot is not None:
            try:
                db.execute("SELECT pg_advisory_unlock(%s, %s)", [_SLOT_LOCKS, slot])
            except (DatabaseError, TransactionManagementError):
                # A caller's transaction broken by the error on its way out: the slot goes with
                # the session. Meanwhile the others count one run more and take its shards
                # when they find them free, so no event waits for it.
                logger.info("resolver slot %s kept until the session ends", slot)


def _shards_take(slot: int | None) -> Iterator[tuple[int, ...] | None]:
    """The sets of shards to claim from, in turn, each locked for this batch's transaction:
    those of this slot's turn among the runs under way (all of them for a run alone), then any
    others still free. Without a slot (SQLite, or more runs than slots), every shard, unlocked."""
    if slot is None:
        yield None
        return
    slots = [
        n
        for (n,) in db.fetchall(
            "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objsubid = 2 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [_SLOT_LOCKS],
        )
    ]
    runs, turn = len(slots), sorted(slots).index(slot)
    mine = [s for s in range(store.SHARDS) if s % runs == turn]
    others = [s for s in range(store.SHARDS) if s % runs != turn]
    for wanted in (mine, others):
        taken = tuple(
            s
            for (s,) in db.fetchall(
                "SELECT s FROM unnest(%s::int[]) AS s WHERE pg_try_advisory_xact_lock(%s, s)",
                [db.bigint_array(wanted), _SHARD_LOCKS],
            )
        )
        if taken:
            yield taken


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


def _announce(
    event_ids: list[int],
    changed: list[int],
    merges: list[tuple[int, int]],
    between: tuple[datetime, datetime],
) -> None:
    """Tell the other apps about a committed batch: `profiles_merged`, then `events_resolved`.

    Outside the batch's own retry: the batch is committed by now, and counting a receiver's
    failure as the batch's would leave its events resolved but never announced. Receivers are
    idempotent (consent capture skips recorded choices), so a deadlocked one is sent again.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            if merges:
                profiles_merged.send(sender=Profile, merges=list(merges))
            events_resolved.send(
                sender=Event, profile_ids=changed, event_ids=event_ids, events_between=between
            )
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
    with _resolver_slot() as slot:
        return _resolve_pending(batch_size, max_batches, progress, announce, slot)


def _resolve_pending(
    batch_size: int,
    max_batches: int | None,
    progress: Callable[[int], None] | None,
    announce: bool,
    slot: int | None,
) -> int:
    rules = RuleBook.load()
    total = 0
    attempts = 0
    batches = 0
    cursors: Cursors = {}
    while max_batches is None or batches < max_batches:
        try:
            with _cyclic_gc_paused():
                events, changed, merges, shards = _resolve_batch(batch_size, rules, cursors, slot)
        except (store.RetryBatchError, IntegrityError, OperationalError) as exc:
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                raise
            logger.info("identity resolution batch retried after %s: %s", type(exc).__name__, exc)
            continue
        attempts = 0
        if not events:
            return total
        # Only once the batch committed: a batch retried claims the same events again.
        cursors[shards] = (events[-1]["timestamp"], events[-1]["id"])
        event_ids = [e["id"] for e in events]
        between = (events[0]["timestamp"], events[-1]["timestamp"])
        if announce:
            # Immediately when the batch committed on its own; at the caller's commit otherwise.
            transaction.on_commit(
                lambda ids=event_ids, c=changed, m=merges, b=between: _announce(ids, c, m, b)
            )
        total += len(events)
        batches += 1
        if progress is not None:
            progress(total)
    return total
