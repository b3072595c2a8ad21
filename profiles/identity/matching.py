"""The matching rule of identity resolution, applied in memory to one batch of events.

Per event: no known identifier -> a new profile; one profile -> attach; several -> merge them
into the oldest, unless the merged profile would hold more identifiers of a kind than that
kind's limit (two user ids: a shared device), in which case the event's lowest-priority
identifier is dropped and matching is tried again. The same happens when the merge would bring
together the two sides of a split a person made by undoing an earlier merge (`IdentitySplit`).

Nothing here reads or writes the database: `store` loads a `Batch` with the profiles its events
point at and writes its outcome; `runner` drives batches.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone

from ..models import Event
from ..normalise import RuleBook

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


def traits_merge(winner: "Working", loser: "Working") -> None:
    for key, value in loser.traits.items():
        theirs = loser.trait_meta.get(key, {})
        ours = winner.trait_meta.get(key)
        if ours is None or str(theirs.get("at", "")) > str(ours.get("at", "")):
            winner.traits[key] = value
            if theirs:
                winner.trait_meta[key] = dict(theirs)


@dataclass
class Working:
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
class BatchMerge:
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
class IdentityRow:
    id: int | None
    profile: int
    first_seen: datetime
    last_seen: datetime
    source_id: int | None
    dirty: bool = False


class Batch:
    """The in-memory resolution of one batch of events.

    `store.batch_load` fills `profiles`, `owner` and `apart` with what the events point at;
    `resolve` and `attach` apply the rule event by event, in event-time order; `store.batch_write`
    stores the outcome.
    """

    def __init__(self, rules: RuleBook):
        self.rules = rules
        self.profiles: dict[int, Working] = {}
        self.owner: dict[Pair, IdentityRow] = {}
        self.merges: list[BatchMerge] = []
        self.assignments: dict[int, int] = {}  # event id -> working key
        # Identifiers on a side of a split a person made by undoing a merge:
        # (kind, value) -> [(split id, side)]. The two sides never end up in one profile.
        self.apart: dict[Pair, list[tuple[int, int]]] = defaultdict(list)
        self._next_key = -1

    def resolve(self, event: dict, pairs: list[Pair]) -> Working | None:
        candidates = list(pairs)
        while candidates:
            matched: list[Working] = []
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

    def _fits(self, matched: list[Working], new_pairs: list[Pair]) -> bool:
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

    def _splits_joined(self, matched: list[Working], new_pairs: list[Pair]) -> bool:
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

    def _new_profile(self) -> Working:
        profile = Working(key=self._next_key, dirty=True)
        self._next_key -= 1
        self.profiles[profile.key] = profile
        return profile

    def _add_identity(self, profile: Working, kind: str, value: str, event: dict) -> None:
        profile.ids[kind].add(value)
        self.owner[(kind, value)] = IdentityRow(
            id=None,
            profile=profile.key,
            first_seen=event["timestamp"],
            last_seen=event["timestamp"],
            source_id=event["source_id"],
            dirty=True,
        )

    def _merge_all(self, matched: list[Working], candidates: list[Pair], event: dict):
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
                BatchMerge(
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

    def attach(self, event: dict, profile: Working | None, pairs: list[Pair]) -> None:
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
