"""The profile links (`ProfileLink`): which live profile a merged-away profile's events belong to.

A merge whose loser has a long history links it to the winner instead of moving its events
inside the resolution batch; `links_consolidate` then moves them, chunk by chunk, each chunk
its own short transaction, and drops the link. Meanwhile readers ask `stored_ids` for the
profile ids whose events are a live profile's. A link always names the end of the chain of
`merged_into`, so one look-up answers, however many merges came before.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from cdp_site import db

from .aggregates import aggregates_refresh_pairs, event_pairs
from .models import Event, Profile, ProfileLink, ProfileMerge

# Events moved per transaction by `links_consolidate`: the live profile stays locked (and a
# resolution batch touching it waits) for one chunk only.
CONSOLIDATE_CHUNK = 5000


def stored_ids(profile_id: int) -> list[int]:
    """The profile itself and every profile merged into it, in id order."""
    linked = ProfileLink.objects.filter(live_id=profile_id).values_list("profile_id", flat=True)
    return sorted({profile_id, *linked})


def stored_ids_of(profile_ids: Iterable[int]) -> list[int]:
    """`stored_ids` of several live profiles at once, in one list."""
    ids = {int(pk) for pk in profile_ids}
    if not ids:
        return []
    linked = set()
    for chunk in db.chunks(sorted(ids), 900):
        linked.update(
            ProfileLink.objects.filter(live_id__in=chunk).values_list("profile_id", flat=True)
        )
    return sorted(ids | linked)


def links_merge(merges: list[tuple[int, int]], *, linked: set[int]) -> None:
    """Record merges (winner, loser), in the order they happened: what was linked to a loser
    now lives on as the end of its winner's chain, and so do the `linked` losers themselves
    (those whose events stay where they are for now).

    Two statements whatever the merges: one re-points the links that named a loser, one adds
    the new links.
    """
    if not merges:
        return
    live: dict[int, int] = {}
    for winner, loser in merges:
        live[loser] = winner
    for loser in live:
        # Follow the batch's later merges: a winner may itself lose later in the same batch.
        end, seen = live[loser], {loser}
        while end in live and end not in seen:
            seen.add(end)
            end = live[end]
        live[loser] = end
    db.rows_update(ProfileLink, ["live_id"], sorted(live.items()), key="live_id")
    db.rows_insert(
        ProfileLink,
        ("profile_id", "live_id"),
        sorted((loser, end) for loser, end in live.items() if loser in linked),
    )


def links_split(*, winner_id: int, loser_id: int) -> None:
    """An undone merge: the loser, and the profiles merged into it before, live on as the loser."""
    ProfileLink.objects.filter(profile_id=loser_id).delete()
    linked = list(
        ProfileLink.objects.filter(live_id=winner_id).values_list("profile_id", flat=True)
    )
    parent = dict(
        Profile.objects.filter(pk__in=linked).values_list("pk", "merged_into_id").order_by()
    )
    came_back = []
    for pk in linked:
        step, seen = parent.get(pk), {pk}
        while step is not None and step not in (loser_id, winner_id) and step not in seen:
            seen.add(step)
            step = parent.get(step)
        if step == loser_id:
            came_back.append(pk)
    ProfileLink.objects.filter(profile_id__in=came_back).update(live_id=loser_id)


def links_recompute() -> int:
    """Every link derived again from `merged_into` (after a rebuild renumbered the profiles).
    Returns how many there are."""
    parent = dict(
        Profile.objects.filter(merged_into__isnull=False)
        .values_list("pk", "merged_into_id")
        .order_by()
    )
    rows = []
    for pk in parent:
        end, seen = parent[pk], {pk}
        while end in parent and end not in seen:
            seen.add(end)
            end = parent[end]
        rows.append((pk, end))
    ProfileLink.objects.all().delete()
    db.rows_insert(ProfileLink, ("profile_id", "live_id"), sorted(rows))
    return len(rows)


def links_exist() -> bool:
    """Whether any profile's events are still to be moved to the profile it was merged into."""
    return ProfileLink.objects.exists()


def links_consolidate(*, max_events: int | None = None) -> tuple[int, bool]:
    """Move the events of linked profiles to their live profiles and drop the links, until none
    is left or `max_events` moved. Returns (events moved, whether no link is left).

    Each chunk is one transaction that locks the two profiles as resolution does, so a merge,
    an undo or a batch never sees a half-moved chunk. Every merge on the way from the linked
    profile to the live one lists the chunk in its `moved_event_ids`, as if the events had
    moved with each merge, so any of them can still be undone exactly.
    """
    moved = 0
    while max_events is None or moved < max_events:
        with transaction.atomic():
            _links_without_events_drop()
            link = ProfileLink.objects.order_by("live_id", "profile_id").first()
            if link is None:
                return moved, True
            moved += _chunk_move(link.profile_id, link.live_id)
    return moved, not links_exist()


def _links_without_events_drop() -> None:
    ProfileLink.objects.exclude(
        profile_id__in=Event.objects.filter(profile_id__isnull=False)
        .filter(profile_id__in=ProfileLink.objects.values("profile_id"))
        .values("profile_id")
    ).delete()


def _chunk_move(profile_id: int, live_id: int) -> int:
    # Locks in the order an undo takes them: the merges, then the profiles (in id order, as
    # resolution takes them).
    merges = _merges_between(profile_id, live_id)
    list(
        Profile.objects.select_for_update(no_key=True)
        .filter(pk__in=[profile_id, live_id])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ProfileLink.objects.filter(profile_id=profile_id, live_id=live_id).exists():
        return 0  # an undo or a merge changed it meanwhile: the next round reads it again
    ids = list(
        Event.objects.filter(profile_id=profile_id)
        .order_by()
        .values_list("pk", flat=True)[:CONSOLIDATE_CHUNK]
    )
    if ids:
        Event.objects.filter(pk__in=ids).update(profile_id=live_id)
        # The days those events fall on, under both profiles, are counted anew.
        pairs = event_pairs(event_ids=ids)
        aggregates_refresh_pairs(pairs=[*pairs, *((profile_id, day) for _p, day in pairs)])
        for merge in merges:
            merge.moved_event_ids = sorted({*merge.moved_event_ids, *ids})
            merge.save(update_fields=["moved_event_ids"])
    if len(ids) < CONSOLIDATE_CHUNK:
        ProfileLink.objects.filter(profile_id=profile_id).delete()
    return len(ids)


def _merges_between(profile_id: int, live_id: int) -> list[ProfileMerge]:
    """The standing merges on the chain from a merged-away profile up to its live profile,
    locked (in id order)."""
    hops = []
    step, seen = profile_id, set()
    while step != live_id and step not in seen:
        seen.add(step)
        up = Profile.objects.filter(pk=step).values_list("merged_into_id", flat=True).first()
        if up is None:
            break
        hops.append(Q(winner_id=up, loser_id=step))
        step = up
    if not hops:
        return []
    query = Q()
    for hop in hops:
        query |= hop
    standing = (
        ProfileMerge.objects.select_for_update()
        .filter(query, undone_at__isnull=True)
        .order_by("pk")
    )
    latest: dict[tuple[int, int], ProfileMerge] = {}
    for merge in standing:
        latest[(merge.winner_id, merge.loser_id)] = merge
    return list(latest.values())
