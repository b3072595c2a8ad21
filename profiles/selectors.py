"""Reads of the profiles app: permission-checked profile access, search, the 360 view's parts.

A read that shows a person's data to someone records it in the audit log here, where it is read,
so no page or API forgets to.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet, prefetch_related_objects
from django.db.models.functions import TruncWeek
from django.http import Http404

from cdp_site.audit import AuditAction, audit_record
from cdp_site.db import like_escape, time_limited
from cdp_site.params import id_in_range, positive_id, storable_text
from cdp_site.source_names import source_names

from .links import links_exist, stored_ids, stored_ids_of
from .masking import can_view_personal_data, mask_identifier, mask_traits
from .models import Event, Identity, Profile, ProfileMerge
from .normalise import email_normalise, phone_normalise

SEARCH_LIMIT = 20
# The shortest part of an e-mail's local part searched inside it (a trigram, see
# `_email_local_part_profiles`).
EMAIL_PART_MIN_LENGTH = 3
MAX_QUERY_LENGTH = 200
TIMELINE_PAGE = 50
# While a profile's events are stored under up to this many profiles (itself and those merged
# into it whose events have not moved yet), its timeline reads each one's newest events through
# the time index and merges them; beyond, one scan of all of them, sorted.
TIMELINE_MERGED_READS = 64


def profile_get_for_user(*, user, profile_id: int) -> Profile:
    """The profile, if `user` may view profiles; 404 otherwise (ids leak nothing).

    A profile merged into another is returned as it is: callers redirect to `merged_into`.
    """
    if not user.has_perm("profiles.view_profile"):
        raise Http404("No such profile.")
    return _profile_get(profile_id)


def profile_get_live(profile_id: int) -> Profile:
    """A profile that exists and was not merged away; 404 otherwise.

    The door of the fragments other apps serve for a customer's page, which check their own roles.
    """
    return _profile_get(profile_id, merged_into__isnull=True)


def _profile_get(profile_id: int, **lookup) -> Profile:
    profile = (
        Profile.objects.filter(pk=profile_id, **lookup).first() if id_in_range(profile_id) else None
    )
    if profile is None:
        raise Http404("No such profile.")
    return profile


def profile_open_for_user(*, user, profile_id: int, detail: dict) -> Profile:
    """The profile a person opens (see `profile_get_for_user`), the opening audited with `detail`.

    A profile merged into another is returned unaudited, since nothing of it is shown: the
    caller sends the person on to `profile_live(profile)`.
    """
    profile = profile_get_for_user(user=user, profile_id=profile_id)
    if profile.merged_into_id is None:
        profile_view_record(user=user, profile=profile, detail=detail)
    return profile


def profile_view_record(*, user, profile: Profile, detail: dict) -> None:
    """Audit that `user` was shown `profile`'s data (`detail` says where and how much)."""
    audit_record(
        user=user,
        action=AuditAction.PROFILE_VIEW,
        profile_id=profile.pk,
        detail=detail,
        sender=Profile,
    )


def profile_live(profile: Profile) -> Profile:
    """Follow merges to the profile that holds this person's data now."""
    seen = {profile.pk}
    while profile.merged_into_id is not None and profile.merged_into_id not in seen:
        seen.add(profile.merged_into_id)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


def merge_get_for_user(*, user, merge_id: int) -> ProfileMerge:
    if not user.has_perm("profiles.change_profilemerge") or not id_in_range(merge_id):
        raise Http404("No such merge.")
    try:
        return ProfileMerge.objects.select_related("winner", "loser").get(pk=merge_id)
    except ProfileMerge.DoesNotExist:
        raise Http404("No such merge.") from None


@dataclass(frozen=True)
class SearchHit:
    profile: Profile
    matched: str  # what matched, e.g. "email" or "name"
    exact: bool


def _identity_profiles(condition: Q, limit: int) -> list[tuple[int, str]]:
    return list(
        Identity.objects.filter(condition).order_by().values_list("profile_id", "kind")[:limit]
    )


def _email_local_part_profiles(part: str, limit: int) -> list[int]:
    """Profiles with an e-mail whose local part (before the "@") contains `part` (lower case,
    as e-mails are stored): "silva" finds rosa.silva@example.com.

    On PostgreSQL through the trigram index on the local part of e-mail identities
    (`identity_email_local_trgm`), written exactly as the index's expression; a part shorter
    than three letters has no trigram to look up, so it is not searched this way.
    """
    if connection.vendor == "postgresql":
        found = Identity.objects.extra(
            where=["kind = 'email'", "split_part(value, '@', 1) LIKE %s"],
            params=[f"%{like_escape(part)}%"],
        )
    else:
        found = Identity.objects.filter(kind="email", value__regex=r"^[^@]*" + re.escape(part))
    return list(found.order_by().values_list("profile_id", flat=True)[:limit])


def profile_search(
    *, query: str, limit: int = SEARCH_LIMIT, partial: bool = True
) -> list[SearchHit]:
    """Profiles matching what a person typed: exact identifier and id hits first, then names and
    identifier prefixes. E-mails match in any case, phones in any common format.

    `partial=False` (for people who see personal data masked) leaves names and prefixes out:
    otherwise adding one letter at a time would tell whether an e-mail or name exists, and
    spell it out. A merged-away profile is answered by the one it was merged into.
    """
    # NUL cannot be in any stored text, and PostgreSQL refuses it in a query parameter.
    query = " ".join(str(query).replace("\x00", "").split())[:MAX_QUERY_LENGTH]
    if not query:
        return []
    exact: list[tuple[int, str]] = []
    profile_id = positive_id(query)
    if profile_id is not None:
        exact.extend(
            (pk, "profile id")
            for pk in Profile.objects.filter(pk=profile_id).values_list("pk", flat=True)
        )
    email = email_normalise(query)
    if email:
        exact.extend(_identity_profiles(Q(kind="email", value=email), limit))
    phone = phone_normalise(query) if sum(ch.isdigit() for ch in query) >= 6 else None
    if phone:
        exact.extend(_identity_profiles(Q(kind="phone", value=phone), limit))
    exact.extend(_identity_profiles(Q(value=query), limit))

    partial_hits: list[tuple[int, str]] = []
    if partial and len(query) >= 2:
        lowered = query.lower()
        if connection.vendor == "postgresql":
            # Parameterised, and written exactly as the trigram index's expression.
            name_ids = Profile.objects.extra(
                where=["lower(traits->>'name') LIKE %s"],
                params=[f"%{like_escape(lowered)}%"],
            )
        else:
            name_ids = Profile.objects.filter(traits__name__icontains=query)
        partial_hits.extend(
            (pk, "name")
            for pk in name_ids.filter(merged_into__isnull=True).values_list("pk", flat=True)[:limit]
        )
        partial_hits.extend(_identity_profiles(Q(value__startswith=lowered), limit))
        if lowered != query:
            partial_hits.extend(_identity_profiles(Q(value__startswith=query), limit))
        if "@" not in lowered and len(lowered) >= EMAIL_PART_MIN_LENGTH:
            partial_hits.extend((pk, "email") for pk in _email_local_part_profiles(lowered, limit))

    order: dict[int, tuple[str, bool]] = {}
    for pk, kind in exact:
        order.setdefault(pk, (kind, True))
    for pk, kind in partial_hits:
        order.setdefault(pk, (kind, False))
    ids = list(order)[:limit]
    profiles = Profile.objects.in_bulk(ids)
    hits = []
    shown: set[int] = set()
    for pk in ids:
        profile = profiles.get(pk)
        if profile is None:
            continue
        if profile.merged_into_id is not None:
            profile = profile_live(profile)
        if profile.pk in shown:
            continue
        shown.add(profile.pk)
        kind, is_exact = order[pk]
        hits.append(SearchHit(profile=profile, matched=kind, exact=is_exact))
    return hits


SEARCH_TOO_SLOW = (
    "This search took too long. Type a whole e-mail, phone number or id: those are found at once."
)


def search_time_limited():
    """The time limit of a profile search a person runs (`CDP_SEARCH_TIMEOUT_MS`)."""
    return time_limited(timeout_ms=settings.CDP_SEARCH_TIMEOUT_MS, message=SEARCH_TOO_SLOW)


def profile_search_for_user(*, user, query: str) -> list[dict]:
    """What the search box shows `user` for `query`: each profile found with its name, e-mail
    and phone (masked for those who may not see them), what matched, and whether exactly.

    Names and prefixes are searched only for people who see personal data unmasked (see
    `profile_search`). A search that shows anyone is audited.
    """
    full = can_view_personal_data(user)
    hits = []
    if query.strip():
        with search_time_limited():
            hits = profile_search(query=query, partial=full)
    results = []
    for hit in hits:
        traits = hit.profile.traits if full else mask_traits(hit.profile.traits or {})
        results.append(
            {
                "profile": hit.profile,
                "name": traits.get("name", ""),
                "email": traits.get("email", ""),
                "phone": traits.get("phone", ""),
                "matched": hit.matched,
                "exact": hit.exact,
            }
        )
    if hits:
        audit_record(
            user=user,
            action=AuditAction.PROFILE_SEARCH,
            detail={"query": query[:200], "profile_ids": [h.profile.pk for h in hits]},
            sender=Profile,
        )
    return results


def profile_filter_by_identifiers(
    *,
    email: str = "",
    phone: str = "",
    user_id: str = "",
    anonymous_id: str = "",
    q: str = "",
    partial: bool = True,
) -> QuerySet[Profile] | list[Profile]:
    """Live profiles holding every identifier given and matching `q` (the API's filters).

    With `q`, in the search's order (`partial` as for `profile_search`).
    """
    if not all(storable_text(value) for value in (email, phone, user_id, anonymous_id)):
        # No stored value holds NUL or broken Unicode, which the database refuses to compare.
        return Profile.objects.none()
    qs = Profile.objects.filter(merged_into__isnull=True).order_by("-last_seen", "-id")
    wanted = []
    if email:
        wanted.append(("email", email_normalise(email) or email.strip().lower()))
    if phone:
        wanted.append(("phone", phone_normalise(phone) or phone.strip()))
    if user_id:
        wanted.append(("user_id", user_id.strip()))
    if anonymous_id:
        wanted.append(("anonymous_id", anonymous_id.strip()))
    for kind, value in wanted:
        qs = qs.filter(pk__in=Identity.objects.filter(kind=kind, value=value).values("profile_id"))
    if q:
        found = [hit.profile for hit in profile_search(query=q, limit=100, partial=partial)]
        if wanted:
            allowed = set(qs.filter(pk__in=[p.pk for p in found]).values_list("pk", flat=True))
            found = [p for p in found if p.pk in allowed]
        return found
    return qs


def profiles_with_details(profiles: Iterable[Profile]) -> list[Profile]:
    """The profiles, each with `identity_list` (its identities by kind and value) and
    `merges_in_force` (the merges into it not undone, oldest first): two queries in all."""
    profiles = list(profiles)
    prefetch_related_objects(
        profiles,
        Prefetch(
            "identities",
            queryset=Identity.objects.order_by("kind", "value").only("profile_id", "kind", "value"),
            to_attr="identity_list",
        ),
        Prefetch(
            "merges_won",
            queryset=ProfileMerge.objects.filter(undone_at__isnull=True)
            .order_by("merged_at")
            .only("winner_id", "loser_id"),
            to_attr="merges_in_force",
        ),
    )
    return profiles


def profile_list_for_user(
    *, user, profiles: QuerySet[Profile] | list[Profile], paginate: Callable
) -> list[Profile]:
    """The page `paginate` takes of `profiles` (found by `profile_filter_by_identifiers`), with
    their details (see `profiles_with_details`); a page that shows anyone is audited."""
    page = profiles_with_details(paginate(profiles))
    if page:
        audit_record(
            user=user,
            action=AuditAction.PROFILE_API_LIST,
            detail={"profile_ids": [profile.pk for profile in page]},
            sender=Profile,
        )
    return page


# -- the customer 360 ----------------------------------------------------------------------


@dataclass(frozen=True)
class TraitRow:
    key: str
    value: object
    set_at: str
    source_id: int | None


def profile_header(*, profile: Profile, user) -> dict:
    """Name, e-mail, phone, location and computed figures, masked for those who may not see them.

    Lifetime value and orders are the computed traits of those keys (None until computed).
    """
    traits = profile.traits or {}
    computed = profile_computed_values(profile=profile)
    shown = traits if can_view_personal_data(user) else mask_traits(traits)
    name = shown.get("name") or " ".join(
        str(shown.get(k, "")) for k in ("first_name", "last_name") if shown.get(k)
    )
    address = shown.get("address") if isinstance(shown.get("address"), dict) else {}
    location = ", ".join(
        str(part)
        for part in (
            address.get("city") or shown.get("city"),
            address.get("country") or shown.get("country"),
        )
        if part
    )
    email = str(shown.get("email", "") or "")
    local, at, domain = email.partition("@")
    return {
        # A profile without a name (one a merge undo gave back, say) is called by its e-mail or
        # phone when it has one; only a profile with neither is "Profile #id".
        "name": name or email or str(shown.get("phone", "") or ""),
        "email": email,
        # Split at the "@", so a long address breaks there and never mid-word.
        "email_local": local if at else "",
        "email_domain": domain if at else "",
        "phone": shown.get("phone", ""),
        "location": location,
        "lifetime_value": computed.get("lifetime_value"),
        "order_count": computed.get("order_count"),
    }


def profile_traits_for_user(*, profile: Profile, user) -> list[TraitRow]:
    traits = profile.traits or {}
    shown = traits if can_view_personal_data(user) else mask_traits(traits)
    meta = profile.trait_meta or {}
    return [
        TraitRow(
            key=key,
            value=shown[key],
            set_at=str(meta.get(key, {}).get("at", "")),
            source_id=meta.get(key, {}).get("source"),
        )
        for key in sorted(shown)
    ]


def profile_identities_for_user(*, profile: Profile, user) -> list[dict]:
    full = can_view_personal_data(user)
    rows = list(Identity.objects.filter(profile=profile).order_by("kind", "first_seen"))
    names = source_names(i.source_id for i in rows)
    return [
        {
            "kind": i.kind,
            "value": i.value if full else mask_identifier(i.kind, i.value),
            "source": names.get(i.source_id, ""),
            "first_seen": i.first_seen,
            "last_seen": i.last_seen,
        }
        for i in rows
    ]


def profile_merges(*, profile: Profile) -> list[ProfileMerge]:
    return list(
        ProfileMerge.objects.filter(Q(winner=profile) | Q(loser=profile))
        .select_related("undone_by")
        .order_by("-merged_at")[:100]
    )


def merge_identifiers_for_user(*, merge: ProfileMerge, user) -> list[dict]:
    """The identifiers that matched both profiles of `merge` ({"kind", "value"}), masked for
    those who may not see personal data."""
    full = can_view_personal_data(user)
    shown = []
    for item in merge.identifiers or []:
        kind, value = str(item.get("kind", "")), str(item.get("value", ""))
        shown.append({"kind": kind, "value": value if full else mask_identifier(kind, value)})
    return shown


def profile_merges_for_user(*, profile: Profile, user) -> list[dict]:
    """The merges into or out of the profile, newest first, as its merge history shows them.

    Each with `happened_at`, the time of the event that caused it (when people did what joined
    the profiles), or the merge's own time when that event is gone, and `identifiers`, the
    values that matched both (see `merge_identifiers_for_user`). Two queries in all.
    """
    merges = profile_merges(profile=profile)
    event_ids = {m.event_id for m in merges if m.event_id is not None}
    times = dict(Event.objects.filter(pk__in=event_ids).values_list("pk", "timestamp"))
    return [
        {
            "merge": m,
            "happened_at": times.get(m.event_id) or m.merged_at,
            "identifiers": merge_identifiers_for_user(merge=m, user=user),
        }
        for m in merges
    ]


def merge_undo_preview_for_user(*, merge: ProfileMerge, user) -> dict:
    """What undoing `merge` would give back to its loser, as the confirmation page says it:
    the identifiers it brought (masked for those who may not see personal data) and the
    winner's name. Showing them is audited, for both profiles."""
    full = can_view_personal_data(user)
    brought = Identity.objects.filter(pk__in=merge.moved_identity_ids or []).order_by("kind")
    for profile in (merge.winner, merge.loser):
        profile_view_record(
            user=user, profile=profile, detail={"page": "merge undo", "merge_id": merge.pk}
        )
    return {
        "brought": [
            {"kind": i.kind, "value": i.value if full else mask_identifier(i.kind, i.value)}
            for i in brought[:50]
        ],
        "brought_count": len(merge.moved_identity_ids or []),
        "matched": merge_identifiers_for_user(merge=merge, user=user),
        "winner": profile_header(profile=merge.winner, user=user),
        # While merged the loser's own traits are kept on the merge.
        "loser": profile_header(
            profile=Profile(pk=merge.loser_id, traits=merge.loser_traits or merge.loser.traits),
            user=user,
        ),
    }


@dataclass(frozen=True)
class TimelineFilter:
    source_id: int | None = None
    type: str = ""
    before: tuple[dt.datetime, int] | None = None  # keyset cursor: (timestamp, id)


def profile_timeline_filtered(filters: TimelineFilter) -> QuerySet[Event]:
    """The events that `filters` leave, of any profile: `profile_timeline` narrows them to the
    profiles a person's events are stored under."""
    qs = Event.objects.all()
    if filters.source_id:
        qs = qs.filter(source_id=filters.source_id)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.before:
        at, pk = filters.before
        # The bare upper bound lets PostgreSQL skip the event table's later monthly partitions
        # when it plans the query (it does not read one out of the OR).
        qs = qs.filter(Q(timestamp__lt=at) | Q(timestamp=at, id__lt=pk), timestamp__lte=at)
    return qs


def profile_timeline_events(*, profile: Profile, filters: TimelineFilter) -> QuerySet[Event]:
    """The events of the profile's own stored history that `filters` leave, newest first."""
    return profile_timeline_filtered(filters).filter(profile=profile).order_by("-timestamp", "-id")


def profile_timeline(
    *, profile: Profile, filters: TimelineFilter, limit: int = TIMELINE_PAGE
) -> tuple[list[Event], tuple[dt.datetime, int] | None]:
    """A page of the profile's events, newest first, and the cursor of the next page (or None)."""
    events = _newest_first(profile_timeline_filtered(filters), stored_ids(profile.pk), limit + 1)
    more = len(events) > limit
    events = events_with_source_names(events[:limit])
    cursor = (events[-1].timestamp, events[-1].pk) if more and events else None
    return events, cursor


def profile_timeline_for_user(
    *, user, profile: Profile, filters: TimelineFilter, limit: int = TIMELINE_PAGE
) -> tuple[list[Event], tuple[dt.datetime, int] | None]:
    """`profile_timeline` as the timeline page shows it to `user`, the reading audited."""
    events, cursor = profile_timeline(profile=profile, filters=filters, limit=limit)
    profile_view_record(
        user=user, profile=profile, detail={"page": "timeline", "events": len(events)}
    )
    return events, cursor


def _newest_first(qs: QuerySet[Event], profile_ids: list[int], limit: int) -> list[Event]:
    """The newest `limit` events of `qs` stored under these profiles.

    One profile: its time index, read newest first. A few: each one's newest `limit`, merged
    (on PostgreSQL a UNION ALL of index reads the planner merges in order, so a merge of two
    long histories reads a page as fast as one history). Many: all of theirs, sorted.
    """
    order = ("-timestamp", "-id")
    if len(profile_ids) == 1:
        return list(qs.filter(profile_id=profile_ids[0]).order_by(*order)[:limit])
    if (
        len(profile_ids) > TIMELINE_MERGED_READS
        or not connection.features.supports_slicing_ordering_in_compound
    ):
        return list(qs.filter(profile_id__in=profile_ids).order_by(*order)[:limit])
    first, *others = (qs.filter(profile_id=pk).order_by(*order)[:limit] for pk in profile_ids)
    return list(first.union(*others, all=True).order_by(*order)[:limit])


def profile_events(*, profile: Profile) -> QuerySet[Event]:
    """Every event of the profile: those stored under it and under the profiles merged into it."""
    ids = stored_ids(profile.pk)
    if len(ids) == 1:
        return Event.objects.filter(profile_id=ids[0])
    return Event.objects.filter(profile_id__in=ids)


def profiles_stored_ids(*, profile_ids: Iterable[int]) -> list[int]:
    """The ids events of these live profiles are stored under: theirs and those merged into them."""
    return stored_ids_of(profile_ids)


def computed_trait_get(*, trait_id: int):
    """One computed trait definition, or 404."""
    from .models import ComputedTrait

    trait = ComputedTrait.objects.filter(pk=trait_id).first()
    if trait is None:
        raise Http404("No such computed trait.")
    return trait


def computed_trait_list_all() -> list:
    """Every computed trait definition, built-in ones first."""
    from .models import ComputedTrait

    return list(ComputedTrait.objects.all())


def computed_trait_fields() -> dict[str, str]:
    """Each computed trait's key and the type of its values, for the segment builder."""
    from .computed_traits import value_type
    from .models import ComputedTrait

    return {key: value_type(kind) for key, kind in ComputedTrait.objects.values_list("key", "kind")}


def profile_computed_values(*, profile: Profile) -> dict:
    """The profile's computed traits and scores (empty until first computed)."""
    from .models import ProfileComputed

    row = ProfileComputed.objects.filter(profile=profile).values_list("values", flat=True).first()
    return row or {}


def event_aggregates_ready() -> bool:
    """Whether the event aggregates cover every event (and so may answer segment questions)."""
    from .aggregates import aggregates_built

    return aggregates_built()


def profile_links_exist() -> bool:
    """Whether some merged-away profile still holds events that belong to a live one."""
    return links_exist()


def profile_event_count(*, profile: Profile) -> int:
    """How many events the profile holds."""
    return profile_events(profile=profile).count()


def profile_events_for_user(*, user, profile: Profile, paginate: Callable) -> list[Event]:
    """The page `paginate` takes of the profile's events, newest first, the reading audited."""
    events = profile_events(profile=profile).order_by("-timestamp", "-id")
    page = events_with_source_names(list(paginate(events)))
    profile_view_record(user=user, profile=profile, detail={"via": "api", "events": len(page)})
    return page


# Events and identities keep a plain source id: `profiles` depends on no other app. Their names
# come from `cdp_site.source_names` (which `integrations` serves), asked once for all the ids of a
# page, so a page costs one query more, never one per row. A source that no longer exists has
# no name ("").


def events_with_source_names(events: list[Event]) -> list[Event]:
    """The events, each with `source_name` set."""
    names = source_names(e.source_id for e in events)
    for e in events:
        e.source_name = names.get(e.source_id, "")
    return events


def source_has_events(*, source_id: int) -> bool:
    """Whether any event came from the source (read through the source's index)."""
    return Event.objects.filter(source_id=source_id).exists()


def profile_event_sources(*, profile: Profile) -> list[tuple[int, str]]:
    """(id, name) of the sources of the profile's events, by name."""
    ids = set(
        profile_events(profile=profile).order_by().values_list("source_id", flat=True).distinct()
    )
    names = source_names(ids)
    return sorted(((i, names.get(i, "")) for i in ids), key=lambda s: (s[1], s[0]))


def profile_activity_weekly(*, profile: Profile) -> list[dict]:
    """Events per week and source: [{"week": date, "source_id", "source": name, "count": n}]."""
    rows = list(
        profile_events(profile=profile)
        .annotate(week=TruncWeek("timestamp"))
        .values("week", "source_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    names = source_names(r["source_id"] for r in rows)
    activity = [
        {
            "week": r["week"],
            "source_id": r["source_id"],
            "source": names.get(r["source_id"], ""),
            "count": r["count"],
        }
        for r in rows
    ]
    return sorted(activity, key=lambda r: (r["week"], r["source"], r["source_id"]))
