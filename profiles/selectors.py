"""Reads of the profiles app: permission-checked profile access, search, the 360 view's parts."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.http import Http404

from cdp_site.db import like_escape
from cdp_site.params import MAX_ID, positive_id, storable_text

from .masking import can_view_personal_data, mask_identifier, mask_traits
from .models import Event, Identity, Profile, ProfileMerge
from .normalise import email_normalise, phone_normalise

SEARCH_LIMIT = 20
MAX_QUERY_LENGTH = 200
TIMELINE_PAGE = 50


def profile_get_for_user(*, user, profile_id: int) -> Profile:
    """The profile, if `user` may view profiles; 404 otherwise (ids leak nothing).

    A profile merged into another is returned as it is: callers redirect to `merged_into`.
    """
    if not user.has_perm("profiles.view_profile") or not 0 < profile_id <= MAX_ID:
        raise Http404("No such profile.")
    try:
        return Profile.objects.get(pk=profile_id)
    except Profile.DoesNotExist:
        raise Http404("No such profile.") from None


def profile_live(profile: Profile) -> Profile:
    """Follow merges to the profile that holds this person's data now."""
    seen = {profile.pk}
    while profile.merged_into_id is not None and profile.merged_into_id not in seen:
        seen.add(profile.merged_into_id)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


def merge_get_for_user(*, user, merge_id: int) -> ProfileMerge:
    if not user.has_perm("profiles.change_profilemerge") or not 0 < merge_id <= MAX_ID:
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


# -- the customer 360 ----------------------------------------------------------------------


@dataclass(frozen=True)
class TraitRow:
    key: str
    value: object
    set_at: str
    source_id: int | None


def profile_header(*, profile: Profile, user) -> dict:
    """Name, e-mail, phone, location and computed figures, masked for those who may not see them."""
    traits = profile.traits or {}
    shown = traits if can_view_personal_data(user) else mask_traits(traits)
    name = shown.get("name") or " ".join(
        str(shown.get(k, "")) for k in ("first_name", "last_name") if shown.get(k)
    )
    address = traits.get("address") if isinstance(traits.get("address"), dict) else {}
    location = ", ".join(
        str(part)
        for part in (
            address.get("city") or traits.get("city"),
            address.get("country") or traits.get("country"),
        )
        if part
    )
    return {
        "name": name or f"Profile {profile.pk}",
        "email": shown.get("email", ""),
        "phone": shown.get("phone", ""),
        "location": location,
        "lifetime_value": traits.get("lifetime_value"),
        "order_count": traits.get("orders_count", traits.get("order_count")),
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
    rows = (
        Identity.objects.filter(profile=profile)
        .select_related("source")
        .order_by("kind", "first_seen")
    )
    return [
        {
            "kind": i.kind,
            "value": i.value if full else mask_identifier(i.kind, i.value),
            "source": i.source.name if i.source else "",
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


@dataclass(frozen=True)
class TimelineFilter:
    source_id: int | None = None
    type: str = ""
    before: tuple[dt.datetime, int] | None = None  # keyset cursor: (timestamp, id)


def profile_timeline(
    *, profile: Profile, filters: TimelineFilter, limit: int = TIMELINE_PAGE
) -> tuple[list[Event], tuple[dt.datetime, int] | None]:
    """A page of the profile's events, newest first, and the cursor of the next page (or None)."""
    qs = Event.objects.filter(profile=profile).select_related("source")
    if filters.source_id:
        qs = qs.filter(source_id=filters.source_id)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.before:
        at, pk = filters.before
        qs = qs.filter(Q(timestamp__lt=at) | Q(timestamp=at, id__lt=pk))
    events = list(qs.order_by("-timestamp", "-id")[: limit + 1])
    more = len(events) > limit
    events = events[:limit]
    cursor = (events[-1].timestamp, events[-1].pk) if more and events else None
    return events, cursor


def profile_event_sources(*, profile: Profile) -> list[tuple[int, str]]:
    return list(
        Event.objects.filter(profile=profile)
        .order_by("source__name", "source_id")
        .values_list("source_id", "source__name")
        .distinct()
    )


def profile_activity_weekly(*, profile: Profile) -> list[dict]:
    """Events per week and source: [{"week": date, "source_id", "source": name, "count": n}]."""
    rows = (
        Event.objects.filter(profile=profile)
        .annotate(week=TruncWeek("timestamp"))
        .values("week", "source_id", "source__name")
        .annotate(count=Count("id"))
        .order_by("week", "source__name")
    )
    return [
        {
            "week": r["week"],
            "source_id": r["source_id"],
            "source": r["source__name"],
            "count": r["count"],
        }
        for r in rows
    ]
