"""Reads of segments: the permission-checked doors, memberships, catalogue and chart data."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from guardian.shortcuts import get_groups_with_perms, get_objects_for_user, get_users_with_perms

from cdp_site.db import heavy_query_transaction
from cdp_site.roles import Role, user_has_role
from profiles.masking import can_view_personal_data
from profiles.models import Profile

from .models import CatalogueField, Segment, SegmentMembership, SegmentSnapshot


def segment_list_for_user(user, *, perm: str = "view") -> QuerySet[Segment]:
    """Segments the user owns or that were shared with them (or a group of theirs)."""
    if user.is_superuser:
        return Segment.objects.all()
    codenames = (
        ["segments.change_segment"]
        if perm == "change"
        else [
            "segments.view_segment",
            "segments.change_segment",
        ]
    )
    shared = get_objects_for_user(
        user, codenames, klass=Segment, any_perm=True, accept_global_perms=False
    ).values("pk")
    return Segment.objects.filter(Q(owner=user) | Q(pk__in=shared))


def segment_get_for_user(user, segment_id: int, *, perm: str = "view") -> Segment:
    """The segment, if the user may see it (or change it, with perm="change"); else 404."""
    segment = segment_list_for_user(user, perm=perm).filter(pk=segment_id).first()
    if segment is None:
        raise Http404("No such segment.")
    return segment


def segment_can_change(user, segment: Segment) -> bool:
    return segment_list_for_user(user, perm="change").filter(pk=segment.pk).exists()


def segment_shares(segment: Segment) -> list[dict]:
    """Who the segment is shared with (besides its owner): users first, then groups."""
    shares = []
    users = get_users_with_perms(segment, attach_perms=True, with_group_users=False)
    for user, perms in sorted(users.items(), key=lambda item: item[0].get_username()):
        if user.pk != segment.owner_id:
            shares.append(
                {"kind": "user", "id": user.pk, "name": user.get_username(), "perms": perms}
            )
    groups = get_groups_with_perms(segment, attach_perms=True)
    for group, perms in sorted(groups.items(), key=lambda item: item[0].name):
        shares.append({"kind": "group", "id": group.pk, "name": group.name, "perms": perms})
    for share in shares:
        share["can_edit"] = "change_segment" in share.pop("perms")
    return shares


def profile_get_active(profile_id: int) -> Profile:
    """A profile that exists and was not merged away; else 404."""
    profile = Profile.objects.filter(pk=profile_id, merged_into__isnull=True).first()
    if profile is None:
        raise Http404("No such profile.")
    return profile


def profile_memberships(profile_id: int) -> QuerySet[SegmentMembership]:
    """Every stay of the profile in a segment, current ones first."""
    return (
        SegmentMembership.objects.filter(profile_id=profile_id)
        .select_related("segment")
        .order_by("exited_at", "-entered_at")
    )


def segment_members(segment: Segment) -> QuerySet[SegmentMembership]:
    return SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).order_by(
        "-entered_at", "profile_id"
    )


def segment_definition_lookup(segment_id: int) -> dict | None:
    return Segment.objects.filter(pk=segment_id).values_list("definition", flat=True).first()


def segments_shown_on_profiles(user) -> QuerySet[Segment]:
    """The segments whose memberships a person sees on a customer's page.

    Support agents and compliance officers see every segment a customer is in (answering the
    customer, or an access request, needs all of them); a marketer sees those they may open,
    since another marketer's private segment, its name and rules, are that marketer's.
    """
    if user.is_superuser or user_has_role(user, (Role.SUPPORT_AGENT, Role.COMPLIANCE_OFFICER)):
        return Segment.objects.all()
    return segment_list_for_user(user)


def definition_rules_for(user) -> dict:
    """The arguments of `definition_problems` / `definition_validate` for what this person
    writes: the segments they may refer to, and whether they may test personal data freely."""
    visible_ids = segment_list_for_user(user)

    def visible(segment_id: int) -> bool:
        return visible_ids.filter(pk=segment_id).exists()

    return {
        "segment_lookup": segment_definition_lookup,
        "visible": visible,
        "personal": can_view_personal_data(user),
    }


def segment_snapshots(segment: Segment, *, limit: int = 365) -> list[SegmentSnapshot]:
    return list(reversed(segment.snapshots.all()[:limit]))


def segment_flow_per_day(segment: Segment, *, days: int = 90, now: dt.datetime) -> dict:
    """Entered and exited counts per calendar day over the last `days` days."""
    since = now - dt.timedelta(days=days)
    entered = (
        SegmentMembership.objects.filter(segment=segment, entered_at__gte=since)
        .annotate(day=TruncDate("entered_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    exited = (
        SegmentMembership.objects.filter(segment=segment, exited_at__gte=since)
        .annotate(day=TruncDate("exited_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    return {
        "entered": {row["day"]: row["n"] for row in entered},
        "exited": {row["day"]: row["n"] for row in exited},
    }


def segment_overlaps(segment: Segment, others: QuerySet[Segment]) -> list[dict]:
    """For each other segment: how many current members it shares with this one."""
    mine = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values(
        "profile_id"
    )
    rows = (
        SegmentMembership.objects.filter(
            segment__in=others.exclude(pk=segment.pk),
            exited_at__isnull=True,
            profile_id__in=mine,
        )
        .values("segment_id", "segment__name")
        .annotate(shared=Count("id"))
        .order_by("-shared")
    )
    total = segment.member_count or 0
    return [
        {
            "segment_id": row["segment_id"],
            "name": row["segment__name"],
            "shared": row["shared"],
            "share": (row["shared"] / total) if total else 0.0,
        }
        for row in rows
    ]


def catalogue_fields() -> dict:
    """The builder's field choices: trait keys, event names, and each event's property keys."""
    traits, events, properties = [], [], {}
    for row in CatalogueField.objects.all():
        if row.kind == CatalogueField.Kind.TRAIT:
            traits.append(row)
        elif row.kind == CatalogueField.Kind.EVENT:
            events.append(row)
        else:
            properties.setdefault(row.event, []).append(row)
    return {"traits": traits, "events": events, "properties": properties}


def segment_count(
    definition: dict, *, self_id: int | None = None, now: dt.datetime | None = None
) -> int:
    """How many profiles match a (validated) definition right now: the builder's live count."""
    from .compiler import segment_queryset

    with heavy_query_transaction():
        return segment_queryset(
            definition, segment_lookup=segment_definition_lookup, self_id=self_id, now=now
        ).count()


def profiles_total() -> int:
    """Profiles that are not merged away; cached for a minute, it only frames the count."""
    return cache.get_or_set(
        "segments:profiles_total",
        lambda: Profile.objects.filter(merged_into__isnull=True).count(),
        60,
    )


def segment_preview(definition: dict, *, sample_size: int = 10, self_id: int | None = None) -> dict:
    """The live count of a (validated) definition, the share of all profiles, and a sample."""
    from .compiler import segment_queryset

    count = segment_count(definition, self_id=self_id)
    total = max(profiles_total(), count)
    sample = []
    if count:
        with heavy_query_transaction():
            sample = list(
                segment_queryset(
                    definition, segment_lookup=segment_definition_lookup, self_id=self_id
                ).order_by("-pk")[:sample_size]
            )
    return {
        "count": count,
        "total_profiles": total,
        "share": (count / total) if total else 0.0,
        "sample": sample,
    }
