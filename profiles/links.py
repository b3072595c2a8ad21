"""The profile links (`ProfileLink`): which live profile a merged-away profile's events belong to.

Events keep the profile they were stored under; a merge, its undo and a rebuild change links,
never events. Readers ask `stored_ids` for the profile ids whose events are a live profile's.
A link always names the end of the chain of `merged_into`, so one look-up answers, however
many merges came before.
"""

from collections.abc import Iterable

from cdp_site import db

from .models import Profile, ProfileLink


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


def links_merge(merges: list[tuple[int, int]]) -> None:
    """Record merges (winner, loser), in the order they happened: each loser, and everything
    linked to it, now lives on as the end of its winner's chain.

    Two statements whatever the merges' histories: one re-points the links that named a loser,
    one adds the losers' own.
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
    db.rows_insert(ProfileLink, ("profile_id", "live_id"), sorted(live.items()))


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
