"""What data subject requests and retention do to the profiles app's own tables: find,
export, erase, rectify, and delete events past their retention period.

Compliance decides and records; this module is the only writer of profiles' rows on its behalf
(one writer per table). Its stores join the erasure registry (`cdp_site.erasure`) from the app
config. Events are found by profile and by value: an event that names the subject only in its
`context` or `properties` (never resolved to them, or sent about them) is theirs too.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from cdp_site.erasure import Store, Subject, store_register, subject_pattern, text_matching

from .aggregates import aggregates_refresh_pairs, event_pairs
from .identity.matching import traits_apply
from .models import (
    DataField,
    Event,
    EventDayAggregate,
    EventTotal,
    Identity,
    IdentitySplit,
    IdentitySplitMember,
    Profile,
    ProfileComputed,
    ProfileMerge,
)

EVENT_BATCH = 2000
IDENTIFIER_COLUMNS = ("user_id", "anonymous_id", "previous_id")
EVENT_TEXT_COLUMNS = ("traits", "properties", "context", "integrations", "group_id", "name")


def _pairs_q(pairs: Iterable[tuple[str, str]]) -> Q:
    condition = Q(pk__in=[])
    for kind, value in pairs:
        condition |= Q(kind=kind, value=value)
    return condition


def subject_profile_ids(pairs: Iterable[tuple[str, str]]) -> frozenset[int]:
    """Every profile the identifiers lead to, and every profile merged into or out of them
    (merged-away profiles keep their rows until the merge is undone or erased)."""
    pairs = list(pairs)
    if not pairs:
        return frozenset()
    found = set(Identity.objects.filter(_pairs_q(pairs)).values_list("profile_id", flat=True))
    frontier = set(found)
    while frontier:
        related = set()
        for winner, loser in ProfileMerge.objects.filter(
            Q(winner_id__in=frontier) | Q(loser_id__in=frontier)
        ).values_list("winner_id", "loser_id"):
            related.update((winner, loser))
        for pk, into in Profile.objects.filter(
            Q(pk__in=frontier) | Q(merged_into_id__in=frontier)
        ).values_list("pk", "merged_into_id"):
            related.add(pk)
            if into is not None:
                related.add(into)
        frontier = related - found
        found |= related
    return frozenset(found)


def subject_identities(profile_ids: Iterable[int]) -> list[tuple[str, str]]:
    """(kind, value) of every identity the profiles hold."""
    return list(
        Identity.objects.filter(profile_id__in=list(profile_ids))
        .order_by("kind", "value")
        .values_list("kind", "value")
    )


def _events(subject: Subject):
    by_identifier = Q(profile_id__in=list(subject.profile_ids))
    values = [value for kind, value in subject.pairs() if kind in ("user_id", "anonymous_id")]
    if values:
        for column in IDENTIFIER_COLUMNS:
            by_identifier |= Q(**{f"{column}__in": values})
    ids = set(Event.objects.filter(by_identifier).values_list("pk", flat=True))
    ids.update(
        text_matching(Event.objects.all(), subject, EVENT_TEXT_COLUMNS).values_list("pk", flat=True)
    )
    return sorted(ids)


def _events_count(subject: Subject) -> int:
    return len(_events(subject))


def _events_erase(subject: Subject) -> int:
    """Deletes in batches of ids, each its own transaction, so a long history holds no lock
    for long and a run stopped half-way resumes from what is left."""
    ids = _events(subject)
    removed = 0
    for start in range(0, len(ids), EVENT_BATCH):
        batch = ids[start : start + EVENT_BATCH]
        with transaction.atomic():
            ProfileMerge.objects.filter(event_id__in=batch).update(event=None)
            pairs = event_pairs(event_ids=batch)
            # A plain DELETE: the one relation into events (a merge's evidence) was just cleared,
            # and the ORM's cascade would first load every event into memory.
            removed += Event.objects.filter(pk__in=batch)._raw_delete(Event.objects.db)
            aggregates_refresh_pairs(pairs=pairs)
    return removed


def _rows(queryset) -> list[dict]:
    return [
        {
            key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in row.items()
        }
        for row in queryset.values()
    ]


def _events_export(subject: Subject) -> dict[str, list[dict]]:
    ids = _events(subject)
    rows: list[dict] = []
    for start in range(0, len(ids), EVENT_BATCH):
        rows.extend(
            _rows(
                Event.objects.filter(pk__in=ids[start : start + EVENT_BATCH]).order_by(
                    "timestamp", "pk"
                )
            )
        )
    return {"events": rows}


def _merges(subject: Subject):
    ids = list(subject.profile_ids)
    return ProfileMerge.objects.filter(Q(winner_id__in=ids) | Q(loser_id__in=ids))


def _splits(subject: Subject):
    by_member = IdentitySplitMember.objects.filter(_pairs_q(subject.pairs())).values("split_id")
    return IdentitySplit.objects.filter(
        Q(pk__in=by_member) | Q(merge__in=_merges(subject).values("pk"))
    )


def _merges_erase(subject: Subject) -> int:
    with transaction.atomic():
        splits = _splits(subject)
        members = IdentitySplitMember.objects.filter(split__in=splits.values("pk")).count()
        split_count = splits.count()
        IdentitySplitMember.objects.filter(
            split__in=list(splits.values_list("pk", flat=True))
        ).delete()
        splits.delete()
        merges = _merges(subject).delete()[0]
    return merges + split_count + members


def _merges_count(subject: Subject) -> int:
    splits = _splits(subject)
    members = IdentitySplitMember.objects.filter(split__in=splits.values("pk")).count()
    return _merges(subject).count() + splits.count() + members


def _merges_export(subject: Subject) -> dict[str, list[dict]]:
    splits = _splits(subject)
    return {
        "merges": _rows(_merges(subject).order_by("merged_at")),
        "splits": _rows(IdentitySplitMember.objects.filter(split__in=splits.values("pk"))),
    }


def _identities(subject: Subject):
    return Identity.objects.filter(
        Q(profile_id__in=list(subject.profile_ids)) | _pairs_q(subject.pairs())
    )


def _identities_erase(subject: Subject) -> int:
    return _identities(subject).delete()[0]


def _profiles(subject: Subject):
    return Profile.objects.filter(pk__in=list(subject.profile_ids))


def _profiles_erase(subject: Subject) -> int:
    """Profiles (and their traits) last, once every row that points at them is gone."""
    with transaction.atomic():
        profiles = _profiles(subject)
        profiles.update(merged_into=None)
        Profile.objects.filter(merged_into__in=list(subject.profile_ids)).update(merged_into=None)
        return profiles.delete()[1].get(Profile._meta.label, 0)


def _profiles_export(subject: Subject) -> dict[str, list[dict]]:
    return {"profiles": _rows(_profiles(subject).order_by("pk"))}


def _event_identifiers(profile_id: int, reference: str) -> dict[str, str]:
    """The profile's own user id and anonymous id, so a rebuild re-derives the correction onto
    the same person; a profile known by neither gets an id of the correction's own."""
    ids = dict(
        Identity.objects.filter(profile_id=profile_id, kind__in=["user_id", "anonymous_id"])
        .order_by("kind", "value")
        .values_list("kind", "value")
    )
    if not ids:
        ids = {"anonymous_id": f"rectification-{reference}"[:255]}
    return {"user_id": ids.get("user_id", ""), "anonymous_id": ids.get("anonymous_id", "")}


def profile_trait_rectify(
    *, profile_id: int, key: str, value: object, reason: str, reference: str, at: datetime
) -> Event:
    """Correct one trait, recorded as an identify event so the profile's history shows it.

    `reference` makes the event's message id, so correcting twice for one request stores one
    event. The event is stored resolved to the profile; the trait is set as of `at`.
    """
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(pk=profile_id)
        event, _created = Event.objects.get_or_create(
            source_id=0,
            message_id=f"rectification-{reference}"[:100],
            defaults={
                "type": Event.Type.IDENTIFY,
                "traits": {key: value},
                "context": {"rectification": {"reason": reason, "reference": reference}},
                "timestamp": at,
                "received_at": at,
                "profile": profile,
                "resolved_at": at,
                **_event_identifiers(profile_id, reference),
            },
        )
        traits = dict(profile.traits or {})
        meta = dict(profile.trait_meta or {})
        meta.pop(key, None)  # a correction overrides whatever came later by event time
        if traits_apply(traits, meta, {key: value}, at=at, source_id=0):
            profile.traits, profile.trait_meta = traits, meta
            profile.save(update_fields=["traits", "trait_meta", "updated_at"])
    return event


def events_delete_before(
    *,
    before: datetime,
    source_ids: Iterable[int] | None = None,
    exclude_source_ids: Iterable[int] = (),
    limit: int,
) -> int:
    """Retention: delete up to `limit` of the oldest events stamped before `before`, of the
    given sources (or of every source but the excluded ones); answers how many."""
    rows = Event.objects.filter(timestamp__lt=before)
    if source_ids is not None:
        rows = rows.filter(source_id__in=list(source_ids))
    exclude = list(exclude_source_ids)
    if exclude:
        rows = rows.exclude(source_id__in=exclude)
    ids = list(rows.order_by("timestamp", "pk").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    with transaction.atomic():
        ProfileMerge.objects.filter(event_id__in=ids).update(event=None)
        pairs = event_pairs(event_ids=ids)
        deleted = Event.objects.filter(pk__in=ids)._raw_delete(Event.objects.db)
        aggregates_refresh_pairs(pairs=pairs)
        return deleted


def _computed_rows(subject: Subject) -> list:
    ids = list(subject.profile_ids)
    return [
        ProfileComputed.objects.filter(profile_id__in=ids),
        EventDayAggregate.objects.filter(profile_id__in=ids),
        EventTotal.objects.filter(profile_id__in=ids),
    ]


def _computed_erase(subject: Subject) -> int:
    """Computed values and event aggregates of the subject's profiles (their events are gone
    by now; the aggregates of other people's events that mentioned them are recomputed where
    those were deleted)."""
    with transaction.atomic():
        # No profile left to erase: an empty filter deletes nothing and answers None.
        return sum(rows._raw_delete(rows.db) or 0 for rows in _computed_rows(subject))


def _computed_export(subject: Subject) -> dict[str, list[dict]]:
    return {
        "computed values": _rows(
            ProfileComputed.objects.filter(profile_id__in=list(subject.profile_ids)).order_by(
                "profile_id"
            )
        )
    }


def _catalogue(subject: Subject):
    return text_matching(DataField.objects.all(), subject, ("common_values",))


def _catalogue_erase(subject: Subject) -> int:
    """The subject's values out of the catalogue's common values (kept only for fields not
    personal and values several records share, so this is a safeguard)."""
    import re

    pattern = re.compile(subject_pattern(subject) or r"(?!)", re.IGNORECASE)
    removed = 0
    with transaction.atomic():
        for field in _catalogue(subject).select_for_update():
            field.common_values = [
                pair for pair in field.common_values if not pattern.search(str(pair[0]))
            ]
            field.save(update_fields=["common_values"])
            removed += 1
    return removed


def register() -> None:
    store_register(
        Store(
            "profiles.computed",
            "Computed traits, scores and event aggregates",
            lambda subject: sum(rows.count() for rows in _computed_rows(subject)),
            _computed_erase,
            _computed_export,
            order=850,
        )
    )
    store_register(
        Store(
            "profiles.catalogue",
            "Common values in the data catalogue",
            lambda subject: _catalogue(subject).count(),
            _catalogue_erase,
            lambda subject: {},
            order=790,
        )
    )
    store_register(
        Store("profiles.events", "Events", _events_count, _events_erase, _events_export, order=800)
    )
    store_register(
        Store(
            "profiles.merges",
            "Merges and splits",
            _merges_count,
            _merges_erase,
            _merges_export,
            order=810,
        )
    )
    store_register(
        Store(
            "profiles.identities",
            "Identities",
            lambda subject: _identities(subject).count(),
            _identities_erase,
            lambda subject: {"identities": _rows(_identities(subject).order_by("kind", "value"))},
            order=820,
        )
    )
    store_register(
        Store(
            "profiles.profiles",
            "Profiles and their traits",
            lambda subject: _profiles(subject).count(),
            _profiles_erase,
            _profiles_export,
            order=900,
        )
    )
