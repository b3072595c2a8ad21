"""Identity resolution: stored events -> one profile per real person.

Events are resolved in batches, in event-time order. For each batch the resolver looks up every
identifier of every event at once, locks the profiles they point at, applies the matching rule
in memory, then writes the outcome set-based: new profiles and identities in bulk inserts, the
events' profiles in one `UPDATE ... FROM`. On PostgreSQL each of these statements takes the
batch as one JSON parameter and answers with one JSON value (`pgjson`): the driver's and the
ORM's per-value work in Python cost more than the statements. Other databases use the ORM.

The rule, per event: no known identifier -> a new profile; one profile -> attach; several ->
merge them into the oldest, unless the merged profile would hold more identifiers of a kind than
that kind's limit (two user ids: a shared device), in which case the event's lowest-priority
identifier is dropped and matching is tried again. The same happens when the merge would bring
together the two sides of a split a person made by undoing an earlier merge (`IdentitySplit`).

Concurrency: a worker claims its batch with `FOR NO KEY UPDATE SKIP LOCKED`, so two workers never
resolve the same event; the profiles a batch touches are locked in id order; two workers that
create the same identifier at once collide on the (kind, value) unique constraint, and the
loser retries its whole batch, now seeing the other's profile. A resolved event is never claimed
again, so running the task twice does nothing the second time.
"""

import gc
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from . import pgjson
from .models import Event, Identity, IdentitySplitMember, Profile, ProfileMerge
from .normalise import RuleBook, event_identifiers
from .signals import events_resolved, profiles_merged

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
_LOOKUP_CHUNK = 900

Pair = tuple[str, str]


def trait_time(value: datetime) -> str:
    """A sortable text form of an event time, stored beside each trait it set."""
    return value.astimezone(UTC).isoformat()


def traits_apply(
    traits: dict, trait_meta: dict, new: dict, *, at: datetime, source_id: int | None
) -> bool:
    """Last write wins by event time: `new` (set at `at`) overrides only older values.

    Returns whether anything changed. Mutates `traits` and `trait_meta`.
    """
    stamp = trait_time(at)
    changed = False
    for key, value in new.items():
        if not isinstance(key, str):
            continue
        meta = trait_meta.get(key)
        if meta and str(meta.get("at", "")) > stamp:
            continue
        if traits.get(key) != value or key not in traits:
            traits[key] = value
            changed = True
        if not meta or meta.get("at") != stamp or meta.get("source") != source_id:
            trait_meta[key] = {"at": stamp, "source": source_id}
            changed = True
    return changed


def traits_merge(winner: "_Working", loser: "_Working") -> None:
    for key, value in loser.traits.items():
        theirs = loser.trait_meta.get(key, {})
        ours = winner.trait_meta.get(key)
        if ours is None or str(theirs.get("at", "")) > str(ours.get("at", "")):
            winner.traits[key] = value
            if theirs:
                winner.trait_meta[key] = dict(theirs)


@dataclass
class _Working:
    """A profile as one batch sees it: loaded from the database or created by the batch."""

    key: int  # the database id, or a negative number for a profile this batch creates
    ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    traits: dict = field(default_factory=dict)
    trait_meta: dict = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    event_ids: list[int] = field(default_factory=list)
    merged_into: int | None = None
    dirty: bool = False
    # Traits or merged_into changed, not only first/last seen: the row is rewritten in full.
    reshaped: bool = False

    @property
    def is_new(self) -> bool:
        return self.key < 0

    def seen(self, at: datetime) -> None:
        if self.first_seen is None or at < self.first_seen:
            self.first_seen = at
            self.dirty = True
        if self.last_seen is None or at > self.last_seen:
            self.last_seen = at
            self.dirty = True


@dataclass
class _Merge:
    winner: int
    loser: int
    identifiers: list[Pair]
    event_id: int
    pairs: list[Pair]
    batch_event_ids: list[int]
    loser_traits: dict
    loser_trait_meta: dict
    at: datetime


@dataclass
class _IdentityRow:
    id: int | None
    profile: int
    first_seen: datetime
    last_seen: datetime
    source_id: int | None
    dirty: bool = False


class _RetryBatchError(Exception):
    """The profiles a batch read changed under it; run the batch again."""


class _Batch:
    """The in-memory resolution of one batch of events."""

    def __init__(self, rules: RuleBook):
        self.rules = rules
        self.profiles: dict[int, _Working] = {}
        self.owner: dict[Pair, _IdentityRow] = {}
        self.merges: list[_Merge] = []
        self.assignments: dict[int, int] = {}  # event id -> working key
        # Identifiers on a side of a split a person made by undoing a merge:
        # (kind, value) -> [(split id, side)]. The two sides never end up in one profile.
        self.apart: dict[Pair, list[tuple[int, int]]] = defaultdict(list)
        self._next_key = -1

    # -- reading ---------------------------------------------------------------------------

    def load(self, pairs: set[Pair]) -> None:
        """Load and lock every profile the pairs point at, with all their identities."""
        locked: set[int] = set()
        for _ in range(4):
            owners = _identity_owners(pairs)
            wanted = set(owners.values()) - locked
            if not wanted:
                break
            for row in _profiles_lock(wanted):
                if row["merged_into_id"] is not None:
                    # Merged by a worker that committed after the owners were read (we held no
                    # lock then). Its identities moved with the merge, in that same commit, so
                    # the next look-up finds the winner: no need to start the batch over.
                    continue
                self.profiles[row["id"]] = _Working(
                    key=row["id"],
                    traits=dict(row["traits"] or {}),
                    trait_meta=dict(row["trait_meta"] or {}),
                    first_seen=row["first_seen"],
                    last_seen=row["last_seen"],
                )
            locked |= wanted
        else:
            raise _RetryBatchError
        live = set(self.profiles)
        if live:
            self._identities_load(live)
        # Every identifier the batch can bring together: the events' own and those of the
        # profiles they point at.
        for split_id, side, kind, value in _split_members(pairs | set(self.owner)):
            self.apart[(kind, value)].append((split_id, side))

    def _identities_load(self, live: set[int]) -> None:
        for ident in _identities_of(live):
            pair = (ident["kind"], ident["value"])
            self.profiles[ident["profile_id"]].ids[ident["kind"]].add(ident["value"])
            self.owner[pair] = _IdentityRow(
                id=ident["id"],
                profile=ident["profile_id"],
                first_seen=ident["first_seen"],
                last_seen=ident["last_seen"],
                source_id=ident["source_id"],
            )

    # -- the rule --------------------------------------------------------------------------

    def resolve(self, event: dict, pairs: list[Pair]) -> _Working | None:
        candidates = list(pairs)
        while candidates:
            matched: list[_Working] = []
            # Told apart by key: `in` on the list would compare whole profiles field by field.
            matched_keys: set[int] = set()
            for pair in candidates:
                row = self.owner.get(pair)
                if row is not None and row.profile not in matched_keys:
                    matched_keys.add(row.profile)
                    matched.append(self.profiles[row.profile])
            new_pairs = [pair for pair in candidates if pair not in self.owner]
            if self._fits(matched, new_pairs):
                target = self._merge_all(matched, candidates, event) if matched else None
                if target is None:
                    target = self._new_profile()
                for kind, value in new_pairs:
                    self._add_identity(target, kind, value, event)
                return target
            if len(candidates) == 1:
                # A single known identifier: its profile, even if an older rule let it exceed
                # today's limits.
                return matched[0] if matched else None
            candidates.pop()  # the lowest-priority identifier of this event
        return None

    def _fits(self, matched: list[_Working], new_pairs: list[Pair]) -> bool:
        if not new_pairs and len(matched) <= 1:
            # Most events: their identifiers all belong to one profile, which gains nothing.
            return True
        if self.apart and self._splits_joined(matched, new_pairs):
            # A person decided these are different people: treat it like a limit conflict.
            return False
        combined: dict[str, set[str]] = defaultdict(set)
        largest: dict[str, int] = defaultdict(int)
        for profile in matched:
            for kind, values in profile.ids.items():
                combined[kind] |= values
                largest[kind] = max(largest[kind], len(values))
        for kind, value in new_pairs:
            combined[kind].add(value)
        for kind, values in combined.items():
            limit = self.rules.rule(kind).limit
            # A profile already over a tightened limit may keep what it has, but not grow.
            if len(values) > limit and len(values) > largest[kind]:
                return False
        return True

    def _splits_joined(self, matched: list[_Working], new_pairs: list[Pair]) -> bool:
        """Whether one profile made of these would hold both sides of a split.

        Each matched profile and each new identifier is one part; a split is broken when one
        part holds one side and another part the other. A profile that already held both
        (from before the split) does not count against itself.
        """
        parts = [
            [(kind, value) for kind, values in profile.ids.items() for value in values]
            for profile in matched
        ] + [[pair] for pair in new_pairs]
        sides_seen: dict[int, dict[int, int]] = defaultdict(dict)  # split -> side -> part
        for part, part_pairs in enumerate(parts):
            for pair in part_pairs:
                for split_id, side in self.apart.get(pair, ()):
                    other = sides_seen[split_id].get(1 - side)
                    if other is not None and other != part:
                        return True
                    sides_seen[split_id].setdefault(side, part)
        return False

    def _new_profile(self) -> _Working:
        profile = _Working(key=self._next_key, dirty=True)
        self._next_key -= 1
        self.profiles[profile.key] = profile
        return profile

    def _add_identity(self, profile: _Working, kind: str, value: str, event: dict) -> None:
        profile.ids[kind].add(value)
        self.owner[(kind, value)] = _IdentityRow(
            id=None,
            profile=profile.key,
            first_seen=event["timestamp"],
            last_seen=event["timestamp"],
            source_id=event["source_id"],
            dirty=True,
        )

    def _merge_all(self, matched: list[_Working], candidates: list[Pair], event: dict):
        if len(matched) == 1:
            return matched[0]
        far_future = datetime.max.replace(tzinfo=UTC)
        ordered = sorted(matched, key=lambda p: (p.first_seen or far_future, p.is_new, abs(p.key)))
        winner = ordered[0]
        # Who held each of the event's identifiers before this event merged anything: the
        # evidence of each merge is what the event shares with those two profiles only.
        held_by = {pair: self.owner[pair].profile for pair in candidates if pair in self.owner}
        for loser in ordered[1:]:
            evidence = [
                pair for pair, holder in held_by.items() if holder in (winner.key, loser.key)
            ]
            pairs = [(kind, value) for kind, values in loser.ids.items() for value in values]
            self.merges.append(
                _Merge(
                    winner=winner.key,
                    loser=loser.key,
                    identifiers=evidence,
                    event_id=event["id"],
                    pairs=pairs,
                    batch_event_ids=list(loser.event_ids),
                    loser_traits=dict(loser.traits),
                    loser_trait_meta=dict(loser.trait_meta),
                    at=timezone.now(),
                )
            )
            for pair in pairs:
                self.owner[pair].profile = winner.key
                self.owner[pair].dirty = True
                winner.ids[pair[0]].add(pair[1])
            for event_id in loser.event_ids:
                self.assignments[event_id] = winner.key
            winner.event_ids.extend(loser.event_ids)
            loser.event_ids = []
            loser.ids = defaultdict(set)
            traits_merge(winner, loser)
            for at in (loser.first_seen, loser.last_seen):
                if at is not None:
                    winner.seen(at)
            loser.merged_into = winner.key
            loser.dirty = winner.dirty = True
            loser.reshaped = winner.reshaped = True
        return winner

    def attach(self, event: dict, profile: _Working | None, pairs: list[Pair]) -> None:
        if profile is None:
            return
        self.assignments[event["id"]] = profile.key
        profile.event_ids.append(event["id"])
        profile.seen(event["timestamp"])
        for pair in pairs:
            row = self.owner.get(pair)
            if row is not None and row.profile == profile.key:
                if event["timestamp"] > row.last_seen:
                    row.last_seen = event["timestamp"]
                    row.dirty = True
                if event["timestamp"] < row.first_seen:
                    row.first_seen = event["timestamp"]
                    row.dirty = True
        identify = event["type"] == Event.Type.IDENTIFY and isinstance(event["traits"], dict)
        if identify and traits_apply(
            profile.traits,
            profile.trait_meta,
            event["traits"],
            at=event["timestamp"],
            source_id=event["source_id"],
        ):
            profile.dirty = profile.reshaped = True

    # -- writing ---------------------------------------------------------------------------

    def write(self, now: datetime) -> tuple[list[int], list[tuple[int, int]]]:
        """Store the batch's outcome; returns (changed profile ids, [(winner, loser)])."""
        new = [p for p in self.profiles.values() if p.is_new]
        created = _profiles_insert(
            [(p.traits, p.trait_meta, p.first_seen, p.last_seen) for p in new], now
        )
        real: dict[int, int] = {p.key: pk for p, pk in zip(new, created, strict=True)}
        for key in self.profiles:
            real.setdefault(key, key)

        # Identities: new ones inserted (a racing worker's insert raises IntegrityError here),
        # moved or seen-again ones updated in one statement.
        new_rows = [(pair, row) for pair, row in self.owner.items() if row.id is None]
        inserted = _identities_insert(
            [
                (kind, value, real[row.profile], row.source_id, row.first_seen, row.last_seen)
                for (kind, value), row in new_rows
            ]
        )
        for (_, row), pk in zip(new_rows, inserted, strict=True):
            row.id = pk
            row.dirty = False
        _update_rows(
            Identity,
            ["profile_id", "first_seen", "last_seen"],
            [
                (row.id, real[row.profile], row.first_seen, row.last_seen)
                for row in self.owner.values()
                if row.dirty
            ],
        )

        # Merges, in the order they happened: the loser's stored events follow it. They are read
        # in one query for every loser, moved in memory merge by merge (a winner may lose a later
        # merge of the same batch), and written in one statement.
        losers = sorted({real[m.loser] for m in self.merges if not self.profiles[m.loser].is_new})
        stored: dict[int, list[int]] = defaultdict(list)
        for event_id, profile_id in _events_of(losers):
            stored[profile_id].append(event_id)
        moved_events: dict[int, int] = {}
        merged_pairs: list[tuple[int, int]] = []
        merge_rows = []
        for merge in self.merges:
            winner, loser = real[merge.winner], real[merge.loser]
            brought = stored.pop(loser, [])
            stored[winner].extend(brought)
            for event_id in brought:
                moved_events[event_id] = winner
            merge_rows.append(
                (
                    winner,
                    loser,
                    [{"kind": k, "value": v} for k, v in merge.identifiers],
                    merge.event_id,
                    sorted(self.owner[pair].id for pair in merge.pairs),
                    sorted(brought + merge.batch_event_ids),
                    merge.loser_traits,
                    merge.loser_trait_meta,
                    merge.at,
                )
            )
            merged_pairs.append((winner, loser))
        _update_rows(Event, ["profile_id"], list(moved_events.items()))
        _merges_insert(merge_rows)

        _update_rows(
            Event,
            ["profile_id", "resolved_at"],
            [(event_id, real[key], now) for event_id, key in self.assignments.items()],
        )
        stored_dirty = [
            p
            for p in self.profiles.values()
            if p.dirty and (not p.is_new or p.merged_into is not None)
        ]
        _update_rows(
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
        _update_rows(
            Profile,
            ["first_seen", "last_seen", "updated_at"],
            [(real[p.key], p.first_seen, p.last_seen, now) for p in stored_dirty if not p.reshaped],
        )
        changed = sorted({real[p.key] for p in self.profiles.values() if p.dirty or p.event_ids})
        return changed, merged_pairs


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


# -- reading, one function per question; PostgreSQL through `pgjson`, other databases the ORM --


def _identity_owners(pairs: set[Pair]) -> dict[Pair, int]:
    """The profile owning each known (kind, value)."""
    if _on_postgresql():
        rows = pgjson.fetchall(
            "SELECT i.kind, i.value, i.profile_id FROM profiles_identity i "
            "JOIN jsonb_array_elements(%s::jsonb) AS p "
            "ON i.kind = p ->> 0 AND i.value = p ->> 1",
            [pgjson.dumps(list(pairs))],
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
        for chunk in _chunks(values, _LOOKUP_CHUNK):
            yield kind, chunk


def _profiles_lock(ids: set[int]) -> list[dict]:
    """Lock these profiles in id order (so two workers never wait on each other in a cycle).

    NO KEY UPDATE, not UPDATE: resolution changes a profile's columns, never its id, so another
    transaction's foreign-key checks (the KEY SHARE locks PostgreSQL takes at commit for a new
    identity or consent record pointing at the profile) need not wait for it. With plain UPDATE
    locks, those commit-time checks deadlocked against the other worker's locks.
    """
    if _on_postgresql():
        rows = pgjson.select(
            "SELECT id, traits, trait_meta, first_seen, last_seen, merged_into_id "
            "FROM profiles_profile WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE",
            [pgjson.bigint_array(ids)],
            timestamps=("first_seen", "last_seen"),
        )
        return rows
    return list(
        Profile.objects.select_for_update(no_key=True)
        .filter(id__in=ids)
        .order_by("id")
        .values("id", "traits", "trait_meta", "first_seen", "last_seen", "merged_into_id")
    )


def _split_members(pairs: set[Pair]) -> list[tuple[int, int, str, str]]:
    """(split id, side, kind, value) of every split member among these identifiers."""
    if not pairs or not IdentitySplitMember.objects.exists():
        # The usual case, and one cheap query: nobody has undone a merge yet.
        return []
    if _on_postgresql():
        return pgjson.fetchall(
            "SELECT m.split_id, m.side, m.kind, m.value FROM profiles_identitysplitmember m "
            "JOIN jsonb_array_elements(%s::jsonb) AS p ON m.kind = p ->> 0 AND m.value = p ->> 1",
            [pgjson.dumps(list(pairs))],
        )
    found: list[tuple[int, int, str, str]] = []
    for kind, values in _values_by_kind(pairs):
        found.extend(
            IdentitySplitMember.objects.filter(kind=kind, value__in=values).values_list(
                "split_id", "side", "kind", "value"
            )
        )
    return found


def _identities_of(ids: set[int]) -> list[dict]:
    """Every identity of these profiles."""
    if _on_postgresql():
        rows = pgjson.select(
            "SELECT id, kind, value, profile_id, first_seen, last_seen, source_id "
            "FROM profiles_identity WHERE profile_id = ANY(%s::bigint[])",
            [pgjson.bigint_array(ids)],
            timestamps=("first_seen", "last_seen"),
        )
        return rows
    found: list[dict] = []
    for chunk in _chunks(sorted(ids), _LOOKUP_CHUNK):
        found.extend(
            Identity.objects.filter(profile_id__in=chunk).values(
                "id", "kind", "value", "profile_id", "first_seen", "last_seen", "source_id"
            )
        )
    return found


def _events_of(profile_ids: list[int]) -> list[tuple[int, int]]:
    """(event id, profile id) of every stored event of these profiles."""
    if _on_postgresql():
        return pgjson.fetchall(
            "SELECT id, profile_id FROM profiles_event WHERE profile_id = ANY(%s::bigint[])",
            [pgjson.bigint_array(profile_ids)],
        )
    found: list[tuple[int, int]] = []
    for chunk in _chunks(profile_ids, _LOOKUP_CHUNK):
        found.extend(Event.objects.filter(profile_id__in=chunk).values_list("id", "profile_id"))
    return found


# -- writing ----------------------------------------------------------------------------------


def _ids_allocate(model, count: int) -> list[int]:
    """`count` new ids of `model`'s table, ascending, as its inserts would have taken them."""
    return sorted(
        pk
        for (pk,) in pgjson.fetchall(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
    )


def _profiles_insert(rows: list[tuple], now: datetime) -> list[int]:
    """Insert profiles from (traits, trait_meta, first_seen, last_seen); returns their ids."""
    if not rows:
        return []
    if not _on_postgresql():
        created = Profile.objects.bulk_create(
            [
                Profile(traits=traits, trait_meta=meta, first_seen=first, last_seen=last)
                for traits, meta, first, last in rows
            ]
        )
        return [obj.pk for obj in created]
    # Ids are taken first, so that matching them to the rows never relies on RETURNING order.
    ids = _ids_allocate(Profile, len(rows))
    pgjson.execute(
        "INSERT INTO profiles_profile "
        "(id, traits, trait_meta, first_seen, last_seen, created_at, updated_at) "
        "SELECT (r ->> 0)::bigint, r -> 1, r -> 2, (r ->> 3)::timestamptz, "
        "(r ->> 4)::timestamptz, %s, %s FROM jsonb_array_elements(%s::jsonb) AS r",
        [now, now, pgjson.dumps([(pk, *row) for pk, row in zip(ids, rows, strict=True)])],
    )
    return ids


def _identities_insert(rows: list[tuple]) -> list[int]:
    """Insert identities from (kind, value, profile, source, first_seen, last_seen); their ids.

    Another worker's insert of the same (kind, value) raises IntegrityError.
    """
    if not rows:
        return []
    if not _on_postgresql():
        created = Identity.objects.bulk_create(
            [
                Identity(
                    kind=kind,
                    value=value,
                    profile_id=profile_id,
                    source_id=source_id,
                    first_seen=first,
                    last_seen=last,
                )
                for kind, value, profile_id, source_id, first, last in rows
            ]
        )
        return [obj.pk for obj in created]
    ids = _ids_allocate(Identity, len(rows))
    pgjson.execute(
        "INSERT INTO profiles_identity "
        "(id, kind, value, profile_id, source_id, first_seen, last_seen) "
        "SELECT (r ->> 0)::bigint, r ->> 1, r ->> 2, (r ->> 3)::bigint, (r ->> 4)::bigint, "
        "(r ->> 5)::timestamptz, (r ->> 6)::timestamptz FROM jsonb_array_elements(%s::jsonb) AS r",
        [pgjson.dumps([(pk, *row) for pk, row in zip(ids, rows, strict=True)])],
    )
    return ids


def _merges_insert(rows: list[tuple]) -> None:
    """Record merges from (winner, loser, identifiers, event, moved_identity_ids,
    moved_event_ids, loser_traits, loser_trait_meta, merged_at)."""
    if not rows:
        return
    if not _on_postgresql():
        ProfileMerge.objects.bulk_create(
            [
                ProfileMerge(
                    winner_id=winner,
                    loser_id=loser,
                    identifiers=identifiers,
                    event_id=event_id,
                    moved_identity_ids=identity_ids,
                    moved_event_ids=event_ids,
                    loser_traits=traits,
                    loser_trait_meta=trait_meta,
                    merged_at=at,
                )
                for (
                    winner,
                    loser,
                    identifiers,
                    event_id,
                    identity_ids,
                    event_ids,
                    traits,
                    trait_meta,
                    at,
                ) in rows
            ]
        )
        return
    pgjson.execute(
        "INSERT INTO profiles_profilemerge (winner_id, loser_id, identifiers, event_id, "
        "moved_identity_ids, moved_event_ids, loser_traits, loser_trait_meta, merged_at) "
        "SELECT (r ->> 0)::bigint, (r ->> 1)::bigint, r -> 2, (r ->> 3)::bigint, r -> 4, r -> 5, "
        "r -> 6, r -> 7, (r ->> 8)::timestamptz "
        # In list order, so ids ascend as the merges happened, as bulk_create would give them.
        "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(r, n) ORDER BY e.n",
        [pgjson.dumps(rows)],
    )


# How each column `_update_rows` sets is read from an element of the batch's JSON array.
_PG_READ = {
    "profile_id": "(r ->> {i})::bigint",
    "merged_into_id": "(r ->> {i})::bigint",
    "first_seen": "(r ->> {i})::timestamptz",
    "last_seen": "(r ->> {i})::timestamptz",
    "resolved_at": "(r ->> {i})::timestamptz",
    "updated_at": "(r ->> {i})::timestamptz",
    "traits": "r -> {i}",
    "trait_meta": "r -> {i}",
}


def _update_rows(model, columns: list[str], rows: list[tuple]) -> None:
    """Set `columns` of many rows, each to its own values: `rows` are (pk, *values).

    PostgreSQL gets one `UPDATE ... FROM jsonb_array_elements(batch)`, the whole batch one JSON
    parameter; SQLite one `UPDATE ... FROM (VALUES ...)` per few hundred rows. Django's
    bulk_update builds a CASE expression per row, which costs more than the update itself.
    """
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    if _on_postgresql():
        reads = ", ".join(
            _PG_READ[name].format(i=i) + f" AS {name}" for i, name in enumerate(columns, start=1)
        )
        pgjson.execute(
            f"UPDATE {table} SET {', '.join(f'{c} = v.{c}' for c in columns)} "  # noqa: S608 - names are ours
            f"FROM (SELECT (r ->> 0)::bigint AS pk, {reads} "
            f"FROM jsonb_array_elements(%s::jsonb) AS r) AS v WHERE {table}.id = v.pk",
            [pgjson.dumps(rows)],
        )
        return
    fields = [model._meta.get_field(name) for name in columns]
    # SQLite names the columns of VALUES column1, column2...
    placeholder = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    assignments = ", ".join(f"{c} = v.column{n}" for n, c in enumerate(columns, start=2))
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, 3000 // (len(columns) + 1)):
            params: list = []
            for row in chunk:
                params.append(row[0])
                for model_field, value in zip(fields, row[1:], strict=True):
                    params.append(model_field.get_db_prep_value(value, connection))
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608 - names are ours
                f"FROM (VALUES {', '.join([placeholder] * len(chunk))}) AS v "
                f"WHERE {table}.id = v.column1",
                params,
            )


# The events' columns the resolver reads, `context` cut down to the parts with identifiers.
_PG_CLAIM = (
    'SELECT id, source_id, type, user_id, anonymous_id, previous_id, traits, "timestamp", '
    "json_build_object('traits', context -> 'traits', 'device', context -> 'device', "
    "'externalIds', context -> 'externalIds') AS context "
    "FROM profiles_event WHERE resolved_at IS NULL {after}"
    'ORDER BY "timestamp", id LIMIT %s FOR NO KEY UPDATE OF profiles_event SKIP LOCKED'
)


def _claim(batch_size: int, after: tuple[datetime, int] | None) -> list[dict]:
    """Lock up to `batch_size` unresolved events, oldest event time first, after `after`.

    `after` is where this run's previous batch ended: without it every claim would walk again
    over the index entries of the events resolved before (dead until vacuum), which made each
    batch slower than the last. An older event stored meanwhile is left to the next run, which
    its ingest queues.

    Only the parts of `context` that carry identifiers are read: the rest (library, user agent,
    page, campaign...) is most of its size and none of the resolver's business.
    """
    if _on_postgresql():
        if after is None:
            sql, params = _PG_CLAIM.format(after=""), [batch_size]
        else:
            sql = _PG_CLAIM.format(after='AND ("timestamp", id) > (%s, %s) ')
            params = [after[0], after[1], batch_size]
        return pgjson.select(sql, params, order='t."timestamp", t.id', timestamps=("timestamp",))
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
        events = _claim(batch_size, after)
        if not events:
            return [], [], []
        extracted = [event_identifiers(e, rules) for e in events]
        batch = _Batch(rules)
        batch.load({pair for pairs in extracted for pair in pairs})
        for event, pairs in zip(events, extracted, strict=True):
            profile = batch.resolve(event, pairs)
            batch.attach(event, profile, pairs)
        now = timezone.now()
        changed, merges = batch.write(now)
        # Events without a single usable identifier (all blocked) are resolved to no profile.
        orphans = [e["id"] for e in events if e["id"] not in batch.assignments]
        if orphans:
            Event.objects.filter(id__in=orphans).update(resolved_at=now)
    return events, changed, merges


# An advisory lock: resolution batches hold it shared, a rebuild holds it exclusively for its
# whole run. Any constant does; this one is "cdp.profiles" spelled in ASCII.
REBUILD_LOCK_KEY = 0x6364702E70726F66


def _rebuild_allows_resolution() -> bool:
    """Take the shared side of the rebuild lock for this batch's transaction, if free."""
    if not _on_postgresql():
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
    if not _on_postgresql():
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
        except (_RetryBatchError, IntegrityError, OperationalError) as exc:
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
