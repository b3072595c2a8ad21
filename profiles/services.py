"""Writes of the profiles app besides resolution itself: undoing a merge, rebuilding profiles."""

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from cdp_site.signals import personal_data_accessed

from .identity import events_resolve_pending, traits_apply
from .models import (
    Event,
    Identity,
    IdentitySplit,
    IdentitySplitMember,
    Profile,
    ProfileMerge,
)
from .signals import profile_merge_undone


class ProfilesError(Exception):
    """A request the profiles app refuses; `code` is stable for programs, the text for people."""

    code = "profiles_error"


class MergeAlreadyUndoneError(ProfilesError):
    code = "merge_already_undone"


class MergeNotUndoableError(ProfilesError):
    code = "merge_not_undoable"


def profile_traits_recompute(*, profile: Profile) -> None:
    """Traits, their times and first/last seen, re-derived from the profile's own events."""
    traits: dict = {}
    meta: dict = {}
    identifies = (
        Event.objects.filter(profile=profile, type=Event.Type.IDENTIFY)
        .order_by("timestamp", "id")
        .values_list("traits", "timestamp", "source_id")
    )
    for event_traits, at, source_id in identifies.iterator(chunk_size=2000):
        if isinstance(event_traits, dict):
            traits_apply(traits, meta, event_traits, at=at, source_id=source_id)
    seen = Event.objects.filter(profile=profile).aggregate(
        first=Min("timestamp"), last=Max("timestamp")
    )
    profile.traits = traits
    profile.trait_meta = meta
    profile.first_seen = seen["first"]
    profile.last_seen = seen["last"]


def profile_merge_undo(*, merge: ProfileMerge, user) -> ProfileMerge:
    """Split a merge: the loser comes back with the identities and events it brought.

    The loser's traits come back exactly as they were at the merge; the winner's are re-derived
    from the events it keeps.
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
        Event.objects.filter(pk__in=merge.moved_event_ids).update(profile=loser)
        loser.traits = merge.loser_traits
        loser.trait_meta = merge.loser_trait_meta
        loser.merged_into = None
        seen = Event.objects.filter(profile=loser).aggregate(
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
            personal_data_accessed.send(
                sender=ProfileMerge,
                user=user,
                profile_id=winner.pk,
                action="profile.merge_undo",
                detail={"merge_id": merge.pk, "loser_id": loser.pk},
            )
        winner_id, loser_id = winner.pk, loser.pk
        transaction.on_commit(
            lambda: profile_merge_undone.send(
                sender=ProfileMerge, winner_id=winner_id, loser_id=loser_id
            )
        )
    return merge


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

    Profiles, identities and merges are dropped and the events resolved again from scratch, in
    event-time order. Splits people made by undoing merges are kept: they hold identifiers, not
    profiles, and the new profiles respect them. `progress(done, total)` is called after each
    batch. Returns the number of events resolved.
    """
    with transaction.atomic():
        Event.objects.exclude(profile=None, resolved_at=None).update(profile=None, resolved_at=None)
        ProfileMerge.objects.all().delete()
        Identity.objects.all().delete()
        Profile.objects.all().delete()
    total = Event.objects.count()
    return events_resolve_pending(
        batch_size=batch_size,
        progress=(lambda done: progress(done, total)) if progress is not None else None,
    )
