"""Writes of the profiles app besides resolution itself: undoing a merge, rebuilding profiles."""

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from cdp_site.audit import AuditAction, audit_record
from cdp_site.errors import ConflictError

from .identity import events_resolve_pending, rebuild_lock, traits_apply
from .links import links_consolidate, links_recompute, links_split, stored_ids
from .models import (
    Event,
    Identity,
    IdentitySplit,
    IdentitySplitMember,
    Profile,
    ProfileLink,
    ProfileMerge,
    RebuildRun,
)
from .normalise import RuleBook, event_identifiers
from .signals import profile_merge_undone, profiles_rebuilt


class ProfilesError(ConflictError):
    """A change the profiles app refuses in the state things are in (409)."""

    code = "profiles_error"


class MergeAlreadyUndoneError(ProfilesError):
    code = "merge_already_undone"


class MergeNotUndoableError(ProfilesError):
    code = "merge_not_undoable"


def profile_traits_recompute(*, profile: Profile) -> None:
    """Traits, their times and first/last seen, re-derived from the profile's own events."""
    traits: dict = {}
    meta: dict = {}
    events = Event.objects.filter(profile_id__in=stored_ids(profile.pk))
    identifies = (
        events.filter(type=Event.Type.IDENTIFY)
        .order_by("timestamp", "id")
        .values_list("traits", "timestamp", "source_id")
    )
    for event_traits, at, source_id in identifies.iterator(chunk_size=2000):
        if isinstance(event_traits, dict):
            traits_apply(traits, meta, event_traits, at=at, source_id=source_id)
    seen = events.aggregate(first=Min("timestamp"), last=Max("timestamp"))
    profile.traits = traits
    profile.trait_meta = meta
    profile.first_seen = seen["first"]
    profile.last_seen = seen["last"]


def profile_merge_undo(*, merge: ProfileMerge, user) -> ProfileMerge:
    """Split a merge: the loser comes back with the identities and events it brought, and with
    what its person did while merged (see `_activity_after_merge_of_loser`).

    The loser's traits come back exactly as they were at the merge, or re-derived from its
    events when it gets later ones back; the winner's are re-derived from the events it keeps.
    """
    with transaction.atomic():
        merge = ProfileMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at is not None:
            raise MergeAlreadyUndoneError("This merge has already been undone.")
        profiles = {
            p.pk: p
            # NO KEY UPDATE, as the resolver takes: ids do not change, references may be added.
            for p in Profile.objects.select_for_update(no_key=True)
            .filter(pk__in=[merge.winner_id, merge.loser_id])
            .order_by("pk")
        }
        winner, loser = profiles[merge.winner_id], profiles[merge.loser_id]
        if winner.merged_into_id is not None:
            raise MergeNotUndoableError(
                "The surviving profile was merged again since; undo that merge first."
            )
        if loser.merged_into_id != winner.pk:
            raise MergeNotUndoableError("This profile is no longer merged into the other one.")
        Identity.objects.filter(pk__in=merge.moved_identity_ids).update(profile=loser)
        # Events still stored under the loser (a long history not consolidated yet) come back
        # as its link goes; those that moved to the winner, in the batch or by consolidation,
        # move back.
        links_split(winner_id=winner.pk, loser_id=loser.pk)
        Event.objects.filter(pk__in=merge.moved_event_ids).update(profile=loser)
        later_events, later_identities = _activity_after_merge_of_loser(merge, winner, loser)
        Event.objects.filter(pk__in=later_events).update(profile=loser)
        Identity.objects.filter(pk__in=later_identities).update(profile=loser)
        loser.merged_into = None
        if later_events:
            # The loser carried on while merged: its traits are those its events set.
            profile_traits_recompute(profile=loser)
        else:
            loser.traits = merge.loser_traits
            loser.trait_meta = merge.loser_trait_meta
            seen = Event.objects.filter(profile_id__in=stored_ids(loser.pk)).aggregate(
                first=Min("timestamp"), last=Max("timestamp")
            )
            loser.first_seen, loser.last_seen = seen["first"], seen["last"]
        loser.save()
        profile_traits_recompute(profile=winner)
        winner.save()
        merge.undone_at = timezone.now()
        merge.undone_by = user if getattr(user, "is_authenticated", False) else None
        merge.save(update_fields=["undone_at", "undone_by"])
        _split_record(merge=merge, stayed=winner, came_back=loser)
        if merge.undone_by is not None:
            audit_record(
                user=user,
                action=AuditAction.PROFILE_MERGE_UNDO,
                profile_id=winner.pk,
                detail={"merge_id": merge.pk, "loser_id": loser.pk},
                sender=ProfileMerge,
            )
        winner_id, loser_id = winner.pk, loser.pk
        transaction.on_commit(
            lambda: profile_merge_undone.send(
                sender=ProfileMerge, winner_id=winner_id, loser_id=loser_id
            )
        )
    return merge


def _activity_after_merge_of_loser(
    merge: ProfileMerge, winner: Profile, loser: Profile
) -> tuple[list[int], list[int]]:
    """What the loser's person did while merged: (event ids, identity ids) to give back.

    The winner's events resolved after the merge are read with their identifiers. One that
    carries an identifier the loser holds again, and none the winner had before the merge, was
    the loser's person; so is an identifier first seen after the merge that only such events
    carry (an app installed while merged), and the events carrying only such identifiers. An
    event carrying identifiers of both (the one that caused the merge, say) stays with the winner.
    """
    rules = RuleBook.load()
    events = list(
        Event.objects.filter(profile_id__in=stored_ids(winner.pk), resolved_at__gte=merge.merged_at)
        .exclude(pk__in=merge.moved_event_ids)
        .values("id", "type", "user_id", "anonymous_id", "previous_id", "traits", "context")
    )
    if not events:
        return [], []
    loser_pairs = set(Identity.objects.filter(profile=loser).values_list("kind", "value"))
    trigger_at = (
        Event.objects.filter(pk=merge.event_id).values_list("timestamp", flat=True).first()
        or merge.merged_at
    )
    # The winner's identifiers first seen after the merge may have been either person's.
    winner_identities = {
        (kind, value): (pk, first_seen)
        for pk, kind, value, first_seen in Identity.objects.filter(profile=winner).values_list(
            "pk", "kind", "value", "first_seen"
        )
    }
    new_since = {
        pair for pair, (_, first_seen) in winner_identities.items() if first_seen > trigger_at
    }
    winner_before = set(winner_identities) - new_since
    carried = {event["id"]: set(event_identifiers(event, rules)) for event in events}
    # Spread from the loser's identifiers through the events, until nothing changes.
    theirs = set(loser_pairs)
    moved: set[int] = set()
    changed = True
    while changed:
        changed = False
        for event_id, pairs in carried.items():
            if event_id in moved or not pairs & theirs or pairs & winner_before:
                continue
            moved.add(event_id)
            gained = (pairs & new_since) - theirs
            if gained:
                theirs |= gained
                changed = True
    staying = set().union(*(pairs for event_id, pairs in carried.items() if event_id not in moved))
    identities = [
        winner_identities[pair][0]
        for pair in (theirs - loser_pairs) & new_since
        if pair not in staying
    ]
    return sorted(moved), sorted(identities)


def _split_record(*, merge: ProfileMerge, stayed: Profile, came_back: Profile) -> IdentitySplit:
    """Keep the two people apart by their identifiers, for every later resolution and rebuild."""
    split = IdentitySplit.objects.create(
        merge=merge, made_by=merge.undone_by, made_at=merge.undone_at
    )
    IdentitySplitMember.objects.bulk_create(
        IdentitySplitMember(split=split, side=side, kind=kind, value=value)
        for side, profile in ((0, stayed), (1, came_back))
        for kind, value in Identity.objects.filter(profile=profile).values_list("kind", "value")
    )
    return split


def profiles_rebuild(*, batch_size: int = 5000, progress=None) -> int:
    """Re-derive every profile from the stored events, e.g. after the identity rules changed.

    Identities and merges are dropped and the events resolved again from scratch, in event-time
    order. Splits people made by undoing merges are kept: they hold identifiers, not profiles,
    and the new profiles respect them. `progress(done, total)` is called after each batch.
    Returns the number of events resolved.

    Profile ids are kept wherever they can be, so links, audit rows, consent records and
    segment memberships stay with their person (see `_previous_ids_restore`). Workers resolve
    nothing until it is done (`rebuild_lock`); new events wait, unresolved, and are resolved
    after.
    """
    with rebuild_lock():
        return _profiles_rebuild(batch_size, progress)


def _profiles_rebuild(batch_size: int, progress) -> int:
    with transaction.atomic():
        max_previous_id = Profile.objects.aggregate(top=Max("pk"))["top"] or 0
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rebuild_previous")
            # Which live profile each event had: the new profiles take the ids of the old ones.
            cursor.execute(
                "CREATE TEMPORARY TABLE rebuild_previous AS "
                "SELECT e.id AS event_id, COALESCE(l.live_id, e.profile_id) AS profile_id "
                "FROM profiles_event e "
                "LEFT JOIN profiles_profilelink l ON l.profile_id = e.profile_id "
                "WHERE e.profile_id IS NOT NULL"
            )
        merged_away = _merged_away_identifiers(ProfileMerge.objects.filter(undone_at__isnull=True))
        Event.objects.exclude(profile=None, resolved_at=None).update(profile=None, resolved_at=None)
        ProfileMerge.objects.all().delete()
        ProfileLink.objects.all().delete()
        Identity.objects.all().delete()
    total = Event.objects.count()
    resolved = events_resolve_pending(
        batch_size=batch_size,
        progress=(lambda done: progress(done, total)) if progress is not None else None,
        announce=False,
    )
    with transaction.atomic():
        _previous_ids_restore(max_previous_id, merged_away)
        # The identity rules page says a rebuild is needed until one finishes after a change.
        RebuildRun.objects.create(finished_at=timezone.now(), events=resolved)
        transaction.on_commit(lambda: profiles_rebuilt.send(sender=Profile))
    return resolved


def _merged_away_identifiers(merges) -> dict[int, frozenset[tuple[str, str]]]:
    """Per profile these merges merged away: the identifiers it brought to the winner."""
    rows = list(merges.values_list("loser_id", "moved_identity_ids"))
    wanted = {pk for _, moved in rows for pk in moved or []}
    pairs = {
        pk: (kind, value)
        for pk, kind, value in Identity.objects.filter(pk__in=wanted).values_list(
            "pk", "kind", "value"
        )
    }
    return {
        loser: frozenset(pairs[pk] for pk in moved or [] if pk in pairs) for loser, moved in rows
    }


def _merged_away_matches(
    previous: dict[int, frozenset], rebuilt: dict[int, frozenset]
) -> list[tuple[int, int]]:
    """(rebuilt id, previous id) of profiles merged away before and again, matched by the
    identifiers they brought (most shared first, each used once)."""
    candidates = sorted(
        (
            (len(brought & before), new_id, old_id)
            for new_id, brought in rebuilt.items()
            for old_id, before in previous.items()
            if brought & before
        ),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    taken_new: set[int] = set()
    taken_old: set[int] = set()
    matches = []
    for _shared, new_id, old_id in candidates:
        if new_id not in taken_new and old_id not in taken_old:
            taken_new.add(new_id)
            taken_old.add(old_id)
            matches.append((new_id, old_id))
    return matches


# Per rebuilt profile, the previous profile that held most of its events, when that previous
# profile holds no more of any other rebuilt profile's events.
_RENUMBER = """
CREATE TEMPORARY TABLE rebuild_renumber AS
WITH shared AS (
    SELECT COALESCE(l.live_id, e.profile_id) AS new_id, p.profile_id AS old_id, COUNT(*) AS events
    FROM profiles_event e JOIN rebuild_previous p ON p.event_id = e.id
    LEFT JOIN profiles_profilelink l ON l.profile_id = e.profile_id
    WHERE e.profile_id > %s
    GROUP BY COALESCE(l.live_id, e.profile_id), p.profile_id
), best_old AS (
    SELECT new_id, old_id, events,
           ROW_NUMBER() OVER (PARTITION BY new_id ORDER BY events DESC, old_id) AS rank
    FROM shared
), best_new AS (
    SELECT new_id, old_id,
           ROW_NUMBER() OVER (PARTITION BY old_id ORDER BY events DESC, new_id) AS rank
    FROM best_old WHERE rank = 1
)
SELECT new_id, old_id FROM best_new WHERE rank = 1
"""

# Each previous profile that no rebuilt one took over: the rebuilt profile (by its final id)
# that holds most of its events, which it is merged into so its links lead there.
_REDIRECTS = """
SELECT old_id, new_id FROM (
    SELECT p.profile_id AS old_id, COALESCE(r.old_id, e.live_id) AS new_id,
           ROW_NUMBER() OVER (PARTITION BY p.profile_id ORDER BY COUNT(*) DESC,
                              COALESCE(r.old_id, e.live_id)) AS rank
    FROM rebuild_previous p
    JOIN (SELECT e.id, COALESCE(l.live_id, e.profile_id) AS live_id FROM profiles_event e
          LEFT JOIN profiles_profilelink l ON l.profile_id = e.profile_id
          WHERE e.profile_id IS NOT NULL) AS e ON e.id = p.event_id
    LEFT JOIN rebuild_renumber r ON r.new_id = e.live_id
    WHERE p.profile_id NOT IN (SELECT old_id FROM rebuild_renumber)
    GROUP BY p.profile_id, COALESCE(r.old_id, e.live_id)
) AS ranked WHERE rank = 1
"""


def _previous_ids_restore(
    max_previous_id: int, merged_away: dict[int, frozenset[tuple[str, str]]]
) -> None:
    """Give the rebuilt profiles the ids their people had, and redirect the ids left over.

    A rebuilt profile takes over the previous profile that held most of its events (when that
    one is not the better match of another): its identities, events, merges and traits move
    to the previous id, and the new row goes. A previous profile no rebuilt one took over (its
    person is now part of another, under new rules) is merged into the profile holding most of
    its events; a person the new rules split in two keeps the id in the larger part.

    A profile merged away again (it holds no events, they went to the winner) takes the id of
    the previous profile merged away with the same identifiers, so an undo after the rebuild
    brings the person back under their old id, and no extra row is left per merge.
    """
    now = timezone.now()
    rebuilt_merges = ProfileMerge.objects.filter(
        loser_id__gt=max_previous_id, undone_at__isnull=True
    )
    loser_matches = _merged_away_matches(merged_away, _merged_away_identifiers(rebuilt_merges))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rebuild_renumber")
        cursor.execute(_RENUMBER, [max_previous_id])
        if loser_matches:
            cursor.executemany(
                "INSERT INTO rebuild_renumber (new_id, old_id) VALUES (%s, %s)", loser_matches
            )
        for table, column in (
            ("profiles_identity", "profile_id"),
            ("profiles_event", "profile_id"),
            ("profiles_profilelink", "profile_id"),
            ("profiles_profilelink", "live_id"),
            ("profiles_profilemerge", "winner_id"),
            ("profiles_profilemerge", "loser_id"),
            ("profiles_profile", "merged_into_id"),
        ):
            cursor.execute(
                f"UPDATE {table} SET {column} = r.old_id FROM rebuild_renumber r "  # noqa: S608
                f"WHERE {table}.{column} = r.new_id"
            )
        cursor.execute(
            "UPDATE profiles_profile SET traits = n.traits, trait_meta = n.trait_meta, "
            "first_seen = n.first_seen, last_seen = n.last_seen, "
            "merged_into_id = n.merged_into_id, updated_at = %s "
            "FROM (SELECT r.old_id, p.traits, p.trait_meta, p.first_seen, p.last_seen, "
            "p.merged_into_id FROM rebuild_renumber r JOIN profiles_profile p ON p.id = r.new_id) "
            "AS n WHERE profiles_profile.id = n.old_id",
            [now],
        )
        cursor.execute(
            "DELETE FROM profiles_profile WHERE id IN (SELECT new_id FROM rebuild_renumber)"
        )
        cursor.execute(
            "UPDATE profiles_profile SET merged_into_id = x.new_id, updated_at = %s "  # noqa: S608
            f"FROM ({_REDIRECTS}) AS x WHERE profiles_profile.id = x.old_id",
            [now],
        )
        cursor.execute("DROP TABLE rebuild_renumber")
        cursor.execute("DROP TABLE rebuild_previous")
    # The redirects made new merged-away profiles, and chains may end elsewhere now; the
    # events of the profiles merged away with long histories then join their live profiles.
    links_recompute()
    links_consolidate()
