"""Storage of identity resolution: claiming a batch of events, loading what it points at, and
writing its outcome, in two SQL dialects.

One function per question, each with its PostgreSQL and its portable form. On PostgreSQL every
statement takes the batch as one JSON parameter and answers with one JSON value (`cdp_site.db`):
the driver's and the ORM's per-value work in Python cost more than the statements. Other
databases (SQLite) use the ORM and plain statements. Writes are set-based either way: new
profiles and identities in bulk inserts, the events' profiles in one `UPDATE ... FROM`.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from django.db import connection
from django.db.models import Q
from django.db.models.fields.json import KeyTransform

from cdp_site import db

from ..links import links_merge
from ..models import Event, Identity, IdentitySplitMember, Profile, ProfileMerge
from .matching import Batch, IdentityRow, Pair, Working

_LOOKUP_CHUNK = 900
# A merged-away profile with more stored events than this is linked, not moved, in the batch.
MOVE_IN_BATCH = 1000

_PROFILE_COLUMNS = ("traits", "trait_meta", "first_seen", "last_seen")
_IDENTITY_COLUMNS = ("kind", "value", "profile_id", "source_id", "first_seen", "last_seen")
_MERGE_COLUMNS = (
    "winner_id",
    "loser_id",
    "identifiers",
    "event_id",
    "moved_identity_ids",
    "moved_event_ids",
    "loser_traits",
    "loser_trait_meta",
    "merged_at",
)


class RetryBatchError(Exception):
    """The profiles a batch read changed under it; run the batch again."""


# -- a batch in and out -------------------------------------------------------------------------


def batch_load(batch: Batch, pairs: set[Pair]) -> None:
    """Load and lock every profile the pairs point at, with all their identities."""
    locked: set[int] = set()
    for _ in range(4):
        owners = identity_owners(pairs)
        wanted = set(owners.values()) - locked
        if not wanted:
            break
        for row in profiles_lock(wanted):
            if row["merged_into_id"] is not None:
                # Merged by a worker that committed after the owners were read (we held no
                # lock then). Its identities moved with the merge, in that same commit, so
                # the next look-up finds the winner: no need to start the batch over.
                continue
            batch.profiles[row["id"]] = Working(
                key=row["id"],
                traits=dict(row["traits"] or {}),
                trait_meta=dict(row["trait_meta"] or {}),
                first_seen=row["first_seen"],
                last_seen=row["last_seen"],
            )
        locked |= wanted
    else:
        raise RetryBatchError
    live = set(batch.profiles)
    if live:
        for ident in identities_of(live):
            pair = (ident["kind"], ident["value"])
            batch.profiles[ident["profile_id"]].ids[ident["kind"]].add(ident["value"])
            batch.owner[pair] = IdentityRow(
                id=ident["id"],
                profile=ident["profile_id"],
                first_seen=ident["first_seen"],
                last_seen=ident["last_seen"],
                source_id=ident["source_id"],
            )
    # Every identifier the batch can bring together: the events' own and those of the
    # profiles they point at.
    for split_id, side, kind, value in split_members(pairs | set(batch.owner)):
        batch.apart[(kind, value)].append((split_id, side))


def batch_write(
    batch: Batch, now: datetime, events_between: tuple[datetime, datetime] | None = None
) -> tuple[list[int], list[tuple[int, int]]]:
    """Store the batch's outcome; returns (changed profile ids, [(winner, loser)]).

    `events_between` (the first and last event time of the batch) lets the events' update read
    only the months of the batch in the time-partitioned event table.
    """
    new = [p for p in batch.profiles.values() if p.is_new]
    created = db.rows_insert_returning_ids(
        Profile,
        _PROFILE_COLUMNS,
        [(p.traits, p.trait_meta, p.first_seen, p.last_seen) for p in new],
        constants={"created_at": now, "updated_at": now},
    )
    real: dict[int, int] = {p.key: pk for p, pk in zip(new, created, strict=True)}
    for key in batch.profiles:
        real.setdefault(key, key)

    # Identities: new ones inserted (a racing worker's insert raises IntegrityError here),
    # moved or seen-again ones updated in one statement.
    new_rows = [(pair, row) for pair, row in batch.owner.items() if row.id is None]
    inserted = db.rows_insert_returning_ids(
        Identity,
        _IDENTITY_COLUMNS,
        [
            (kind, value, real[row.profile], row.source_id, row.first_seen, row.last_seen)
            for (kind, value), row in new_rows
        ],
    )
    for (_, row), pk in zip(new_rows, inserted, strict=True):
        row.id = pk
        row.dirty = False
    db.rows_update(
        Identity,
        ["profile_id", "first_seen", "last_seen"],
        [
            (row.id, real[row.profile], row.first_seen, row.last_seen)
            for row in batch.owner.values()
            if row.dirty
        ],
    )

    # Merges, in the order they happened. A loser's stored events follow it when they are few
    # (read in one query for every loser, moved in memory merge by merge, as a winner may lose
    # a later merge of the same batch, and written in one statement). A loser with a long
    # history is linked instead (`ProfileLink`): its events stay where they are, readers find
    # them through the link, and `links_consolidate` moves them after the batch, in chunks.
    losers = sorted({real[m.loser] for m in batch.merges if not batch.profiles[m.loser].is_new})
    own: dict[int, list[int]] = defaultdict(list)
    for event_id, profile_id in events_of(losers, limit=MOVE_IN_BATCH + 1):
        own[profile_id].append(event_id)
    long_histories = {pk for pk, ids in own.items() if len(ids) > MOVE_IN_BATCH}
    carried: dict[int, list[int]] = defaultdict(list)  # events moving to a profile in this batch
    moved_events: dict[int, int] = {}
    merged_pairs: list[tuple[int, int]] = []
    merge_rows = []
    for merge in batch.merges:
        winner, loser = real[merge.winner], real[merge.loser]
        brought = carried.pop(loser, [])
        if loser not in long_histories:
            brought += own.pop(loser, [])
        carried[winner].extend(brought)
        for event_id in brought:
            moved_events[event_id] = winner
        merge_rows.append(
            (
                winner,
                loser,
                [{"kind": k, "value": v} for k, v in merge.identifiers],
                merge.event_id,
                sorted(batch.owner[pair].id for pair in merge.pairs),
                sorted(brought + merge.batch_event_ids),
                merge.loser_traits,
                merge.loser_trait_meta,
                merge.at,
            )
        )
        merged_pairs.append((winner, loser))
    db.rows_update(Event, ["profile_id"], list(moved_events.items()))
    links_merge(merged_pairs, linked=long_histories)
    db.rows_insert(ProfileMerge, _MERGE_COLUMNS, merge_rows)

    db.rows_update(
        Event,
        ["profile_id", "resolved_at"],
        [(event_id, real[key], now) for event_id, key in batch.assignments.items()],
        where=events_time_between(events_between),
    )
    stored_dirty = [
        p
        for p in batch.profiles.values()
        if p.dirty and (not p.is_new or p.merged_into is not None)
    ]
    db.rows_update(
        Profile,
        ["traits", "trait_meta", "first_seen", "last_seen", "merged_into_id", "updated_at"],
        [
            (
                real[p.key],
                p.traits,
                p.trait_meta,
                p.first_seen,
                p.last_seen,
                real[p.merged_into] if p.merged_into is not None else None,
                now,
            )
            for p in stored_dirty
            if p.reshaped
        ],
    )
    # Most profiles a batch touches were only seen again: their traits are not rewritten.
    db.rows_update(
        Profile,
        ["first_seen", "last_seen", "updated_at"],
        [(real[p.key], p.first_seen, p.last_seen, now) for p in stored_dirty if not p.reshaped],
    )
    changed = sorted({real[p.key] for p in batch.profiles.values() if p.dirty or p.event_ids})
    return changed, merged_pairs


def events_time_between(between: tuple[datetime, datetime] | None) -> tuple[str, list]:
    """The condition (and parameters) that keeps an update of events in their time range."""
    if between is None:
        return "", []
    return '"timestamp" BETWEEN %s AND %s', list(between)


def events_resolved_to_nobody(
    event_ids: list[int], now: datetime, events_between: tuple[datetime, datetime] | None = None
) -> None:
    """Mark resolved the events without a single usable identifier (all blocked)."""
    if event_ids:
        events = Event.objects.filter(id__in=event_ids)
        if events_between is not None:
            events = events.filter(timestamp__range=events_between)
        events.update(resolved_at=now)


# -- reading ------------------------------------------------------------------------------------


def identity_owners(pairs: set[Pair]) -> dict[Pair, int]:
    """The profile owning each known (kind, value)."""
    if db.on_postgresql():
        rows = db.fetchall(
            "SELECT i.kind, i.value, i.profile_id FROM profiles_identity i "
            "JOIN jsonb_array_elements(%s::jsonb) AS p "
            "ON i.kind = p ->> 0 AND i.value = p ->> 1",
            [db.dumps(list(pairs))],
        )
        return {(kind, value): profile_id for kind, value, profile_id in rows}
    owners: dict[Pair, int] = {}
    for kind, values in _values_by_kind(pairs):
        for value, profile_id in Identity.objects.filter(
            Q(kind=kind) & Q(value__in=values)
        ).values_list("value", "profile_id"):
            owners[(kind, value)] = profile_id
    return owners


def _values_by_kind(pairs: Iterable[Pair]) -> Iterator[tuple[str, list[str]]]:
    """(kind, values) for the ORM's look-ups: one kind at a time, a few hundred values each."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in pairs:
        by_kind[kind].append(value)
    for kind, values in by_kind.items():
        for chunk in db.chunks(values, _LOOKUP_CHUNK):
            yield kind, chunk


def profiles_lock(ids: set[int]) -> list[dict]:
    """Lock these profiles in id order (so two workers never wait on each other in a cycle).

    NO KEY UPDATE, not UPDATE: resolution changes a profile's columns, never its id, so another
    transaction's foreign-key checks (the KEY SHARE locks PostgreSQL takes at commit for a new
    identity or consent record pointing at the profile) need not wait for it. With plain UPDATE
    locks, those commit-time checks deadlocked against the other worker's locks.
    """
    if db.on_postgresql():
        return db.select(
            "SELECT id, traits, trait_meta, first_seen, last_seen, merged_into_id "
            "FROM profiles_profile WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE",
            [db.bigint_array(ids)],
            timestamps=("first_seen", "last_seen"),
        )
    return list(
        Profile.objects.select_for_update(no_key=True)
        .filter(id__in=ids)
        .order_by("id")
        .values("id", "traits", "trait_meta", "first_seen", "last_seen", "merged_into_id")
    )


def split_members(pairs: set[Pair]) -> list[tuple[int, int, str, str]]:
    """(split id, side, kind, value) of every split member among these identifiers."""
    if not pairs or not IdentitySplitMember.objects.exists():
        # The usual case, and one cheap query: nobody has undone a merge yet.
        return []
    if db.on_postgresql():
        return db.fetchall(
            "SELECT m.split_id, m.side, m.kind, m.value FROM profiles_identitysplitmember m "
            "JOIN jsonb_array_elements(%s::jsonb) AS p ON m.kind = p ->> 0 AND m.value = p ->> 1",
            [db.dumps(list(pairs))],
        )
    found: list[tuple[int, int, str, str]] = []
    for kind, values in _values_by_kind(pairs):
        found.extend(
            IdentitySplitMember.objects.filter(kind=kind, value__in=values).values_list(
                "split_id", "side", "kind", "value"
            )
        )
    return found


def identities_of(ids: set[int]) -> list[dict]:
    """Every identity of these profiles."""
    if db.on_postgresql():
        return db.select(
            "SELECT id, kind, value, profile_id, first_seen, last_seen, source_id "
            "FROM profiles_identity WHERE profile_id = ANY(%s::bigint[])",
            [db.bigint_array(ids)],
            timestamps=("first_seen", "last_seen"),
        )
    found: list[dict] = []
    for chunk in db.chunks(sorted(ids), _LOOKUP_CHUNK):
        found.extend(
            Identity.objects.filter(profile_id__in=chunk).values(
                "id", "kind", "value", "profile_id", "first_seen", "last_seen", "source_id"
            )
        )
    return found


def events_of(profile_ids: list[int], *, limit: int) -> list[tuple[int, int]]:
    """(event id, profile id) of the stored events of these profiles, at most `limit` each."""
    if not profile_ids:
        return []
    if db.on_postgresql():
        return db.fetchall(
            "SELECT e.id, p.id FROM unnest(%s::bigint[]) AS p(id) CROSS JOIN LATERAL "
            "(SELECT id FROM profiles_event WHERE profile_id = p.id LIMIT %s) AS e",
            [db.bigint_array(profile_ids), limit],
        )
    found: list[tuple[int, int]] = []
    for pk in profile_ids:
        found.extend(
            Event.objects.filter(profile_id=pk).order_by().values_list("id", "profile_id")[:limit]
        )
    return found


# Resolution's work is split into this many shards by a hash of each event's first identifier
# (its user id, else its anonymous id: the first the matching rule reads), so that workers that
# hold different shards resolve different people (see `runner`).
SHARDS = 16
SHARD_OF_EVENT = f"(hashtext(COALESCE(NULLIF(user_id, ''), anonymous_id)) & {SHARDS - 1})"

# The events' columns the resolver reads, `context` cut down to the parts with identifiers.
_PG_CLAIM = (
    'SELECT id, source_id, type, user_id, anonymous_id, previous_id, traits, "timestamp", '
    "json_build_object('traits', context -> 'traits', 'device', context -> 'device', "
    "'externalIds', context -> 'externalIds') AS context "
    "FROM profiles_event WHERE resolved_at IS NULL {conditions}"
    'ORDER BY "timestamp", id LIMIT %s FOR NO KEY UPDATE OF profiles_event SKIP LOCKED'
)


def events_claim(
    batch_size: int, after: tuple[datetime, int] | None, shards: Sequence[int] | None = None
) -> list[dict]:
    """Lock up to `batch_size` unresolved events, oldest event time first, after `after`, of
    the `shards` given (PostgreSQL; None: of every shard).

    `after` is where this run's previous batch ended: without it every claim would walk again
    over the index entries of the events resolved before (dead until vacuum), which made each
    batch slower than the last. An older event stored meanwhile is left to the next run, which
    its ingest queues.

    Only the parts of `context` that carry identifiers are read: the rest (library, user agent,
    page, campaign...) is most of its size and none of the resolver's business.
    """
    if db.on_postgresql():
        conditions, params = "", []
        if after is not None:
            conditions += 'AND ("timestamp", id) > (%s, %s) '
            params += [after[0], after[1]]
        if shards is not None and len(shards) < SHARDS:
            # Checked on each row the time-ordered scan meets: it reads the other shards'
            # unresolved index entries too, and skips them.
            conditions += f"AND {SHARD_OF_EVENT} = ANY(%s::int[]) "
            params.append(db.bigint_array(shards))
        sql = _PG_CLAIM.format(conditions=conditions)
        return db.select(
            sql, [*params, batch_size], order='t."timestamp", t.id', timestamps=("timestamp",)
        )
    qs = Event.objects.filter(resolved_at__isnull=True)
    if after is not None:
        qs = qs.filter(timestamp__gte=after[0]).exclude(timestamp=after[0], id__lte=after[1])
    qs = qs.order_by("timestamp", "id")
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",), no_key=True)
    rows = list(
        qs.values(
            "id",
            "source_id",
            "type",
            "user_id",
            "anonymous_id",
            "previous_id",
            "traits",
            "timestamp",
            context_traits=KeyTransform("traits", "context"),
            device=KeyTransform("device", "context"),
            external_ids=KeyTransform("externalIds", "context"),
        )[:batch_size]
    )
    for row in rows:
        row["context"] = {
            "traits": row.pop("context_traits"),
            "device": row.pop("device"),
            "externalIds": row.pop("external_ids"),
        }
    return rows
