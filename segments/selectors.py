"""Reads of segments: the permission-checked doors, memberships, catalogue and chart data.

Members' traits are shown masked to people who may not see personal data; a read that shows
them unmasked records it in the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import OperationalError
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from guardian.shortcuts import get_groups_with_perms, get_objects_for_user, get_users_with_perms

from cdp_site.audit import AuditAction, audit_record
from cdp_site.counters import SlotsTakenError, slot
from cdp_site.db import heavy_query_transaction, is_statement_timeout
from cdp_site.errors import TooExpensiveError, TooManyRequestsError
from cdp_site.roles import PERSONAL_DATA_UNMASKED, Role, user_has_role
from compliance.selectors import consent_purposes
from profiles.catalogue.selectors import (
    builder_fields,
    common_values_for_user,
    field_shown,
    field_values_for_user,
)
from profiles.masking import can_view_personal_data, mask_traits
from profiles.models import Profile
from profiles.selectors import profile_get_live

from .definition import segment_references
from .describe import describe_condition, share_text
from .models import Segment, SegmentMembership, SegmentSnapshot

MEMBERS_PER_PAGE = 25


def segment_list_for_user(
    user, *, perm: str = "view", with_owner: bool = False
) -> QuerySet[Segment]:
    """Segments the user owns or that were shared with them (or a group of theirs); with their
    owners fetched alongside when `with_owner` (a list that shows them)."""
    segments = _segments_for_user(user, perm=perm)
    return segments.select_related("owner") if with_owner else segments


def _segments_for_user(user, *, perm: str) -> QuerySet[Segment]:
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


def profile_memberships_for_user(user, profile_id: int) -> QuerySet[SegmentMembership]:
    """Every stay of a live profile (else 404) in the segments `user` sees on a customer's page,
    current ones first."""
    profile = profile_get_live(profile_id)
    return (
        SegmentMembership.objects.filter(
            profile=profile, segment__in=segments_shown_on_profiles(user)
        )
        .select_related("segment")
        .order_by("exited_at", "-entered_at", "pk")
    )


def profile_segments_for_user(user, profile_id: int) -> dict:
    """The customer 360's segments fragment: the profile, its current segments each with the
    explanation of why it is in, and its 20 latest past stays."""
    from .compiler import explain

    profile = profile_get_live(profile_id)
    linked = set(segment_list_for_user(user).values_list("pk", flat=True))
    current, past = [], []
    for membership in profile_memberships_for_user(user, profile.pk):
        row = {
            "membership": membership,
            "segment": membership.segment,
            "linked": membership.segment_id in linked,
        }
        if membership.exited_at is None:
            row["why"] = explain(
                membership.segment.definition, profile.pk, segment_lookup=segment_definition_lookup
            )
            current.append(row)
        else:
            past.append(row)
    return {"profile": profile, "current": current, "past": past[:20]}


def segment_members(segment: Segment) -> QuerySet[SegmentMembership]:
    return SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).order_by(
        "-entered_at", "profile_id"
    )


def segment_member_ids(segment_id: int) -> QuerySet[SegmentMembership]:
    """The `profile_id` of every current member of a segment: a subquery for other apps'
    set-based queries (`profile_id__in=...`, or joined), never loaded into Python."""
    return (
        SegmentMembership.objects.filter(segment_id=segment_id, exited_at__isnull=True)
        .order_by()
        .values("profile_id")
    )


def segment_names_by_id(ids) -> dict[int, str]:
    """{id: name} of the segments among `ids`, in one query."""
    return dict(Segment.objects.filter(pk__in=list(ids)).values_list("pk", "name"))


def segment_definition_lookup(segment_id: int) -> dict | None:
    """The saved definition of a segment (None if there is none): how references resolve."""
    return Segment.objects.filter(pk=segment_id).values_list("definition", flat=True).first()


def segments_shown_on_profiles(user) -> QuerySet[Segment]:
    """The segments whose memberships a person sees on a customer's page.

    Support agents and compliance officers see every segment a customer is in (answering the
    customer, or an access request, needs all of them); a marketer sees those they may open,
    since another marketer's private segment, its name and rules, are that marketer's.
    """
    if user.is_superuser or user_has_role(user, PERSONAL_DATA_UNMASKED):
        return Segment.objects.all()
    return segment_list_for_user(user)


def definition_rules_for(user, *, owner=None) -> dict:
    """The arguments of `definition_problems` / `definition_validate` for what this person
    writes: the segments they may refer to, and whether they may test personal data freely.

    With `owner` (of a segment someone else edits), a reference must also be one the owner
    may open: a segment only ever refers to segments its owner may open.
    """
    visible_ids = segment_list_for_user(user)
    if owner is not None and owner.pk != user.pk:
        visible_ids = visible_ids.filter(pk__in=segment_list_for_user(owner).values("pk"))

    def visible(segment_id: int) -> bool:
        return visible_ids.filter(pk=segment_id).exists()

    return {
        "segment_lookup": segment_definition_lookup,
        "visible": visible,
        "personal": can_view_personal_data(user),
        "masked_field": field_masked,
    }


def segments_referring_to(segment_id: int) -> list[Segment]:
    """The saved segments whose definitions refer to this one directly."""
    return [
        other
        for other in Segment.objects.exclude(pk=segment_id).select_related("owner")
        if segment_id in segment_references(other.definition)
    ]


def segment_references_closed_to_owner(segment: Segment) -> list[tuple[str, int]]:
    """(path, id) of each segment this one refers to directly that its owner may no longer
    open (a group left, a share taken back another way); empty when all is well."""
    if segment.owner is None or segment.owner.is_superuser:
        return []
    open_ids = set(segment_list_for_user(segment.owner).values_list("pk", flat=True))
    closed = []

    def walk(node: object, path: str) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("segment")
        if (
            node.get("type") == "segment"
            and isinstance(ref, int)
            and ref not in open_ids
            # A deleted segment has no members; that is not a matter of access.
            and Segment.objects.filter(pk=ref).exists()
        ):
            closed.append((f"{path}.segment" if path else "segment", ref))
        children = node.get("conditions")
        for index, child in enumerate(children if isinstance(children, list) else []):
            walk(child, f"{path}.conditions.{index}" if path else f"conditions.{index}")

    walk(segment.definition, "")
    return closed


def segment_snapshots(segment: Segment, *, limit: int = 365) -> list[SegmentSnapshot]:
    return list(reversed(segment.snapshots.all()[:limit]))


def segment_flow_per_day(segment: Segment, *, days: int = 90, now: dt.datetime) -> dict:
    """Entered and exited counts per calendar day over the last `days` days."""
    since = now - dt.timedelta(days=days)
    return {
        moment: _count_per_day(segment, f"{moment}_at", since) for moment in ("entered", "exited")
    }


def _count_per_day(segment: Segment, field: str, since: dt.datetime) -> dict:
    """{calendar day: memberships whose `field` time falls on it}, from `since`."""
    rows = (
        SegmentMembership.objects.filter(segment=segment, **{f"{field}__gte": since})
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    return {row["day"]: row["n"] for row in rows}


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
            "share_text": share_text(row["shared"], total),
        }
        for row in rows
    ]


def builder_suggest(user, tree) -> None:
    """Give each trait condition and property filter of a builder tree the common values of its
    field that `user` may be offered (never values of fields they see masked), in one query."""
    nodes = []

    def walk(node) -> None:
        data = node.data
        if data.get("type") == "trait" and isinstance(data.get("trait"), str):
            nodes.append((node, ("trait", "", data["trait"])))
        for sub in node.filters:
            if isinstance(sub.data.get("property"), str):
                event = data.get("event") if isinstance(data.get("event"), str) else ""
                nodes.append((sub, ("property", event, sub.data["property"])))
        for child in node.children:
            walk(child)

    walk(tree)
    values = common_values_for_user(user=user, fields={key for _node, key in nodes})
    for node, key in nodes:
        node.suggestions = values.get(key, [])


def field_masked(kind: str, path: str, event: str = "") -> bool:
    """Whether people who see masked data see this trait or property masked (the data
    catalogue's class: everything not classified not personal is)."""
    return not field_shown(kind, path, event)


def segment_count(
    definition: dict,
    *,
    self_id: int | None = None,
    now: dt.datetime | None = None,
    timeout_ms: int | None = None,
) -> int:
    """How many profiles match a (validated) definition right now: the builder's live count."""
    from .compiler import segment_queryset

    with heavy_query_transaction(timeout_ms=timeout_ms):
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


def segment_preview(
    definition: dict,
    *,
    sample_size: int = 10,
    self_id: int | None = None,
    timeout_ms: int | None = None,
) -> dict:
    """The live count of a (validated) definition, the share of all profiles, and a sample."""
    from .compiler import segment_queryset

    count = segment_count(definition, self_id=self_id, timeout_ms=timeout_ms)
    total = max(profiles_total(), count)
    sample = []
    if count:
        with heavy_query_transaction(timeout_ms=timeout_ms):
            sample = list(
                segment_queryset(
                    definition, segment_lookup=segment_definition_lookup, self_id=self_id
                ).order_by("-pk")[:sample_size]
            )
    return {
        "count": count,
        "total_profiles": total,
        "share": (count / total) if total else 0.0,
        "share_text": share_text(count, total),
        "sample": sample,
    }


def _country(traits: dict) -> str:
    """The country trait, or the address's: shops send it either way."""
    address = traits.get("address")
    nested = address.get("country") if isinstance(address, dict) else None
    return str(traits.get("country") or nested or "")


def member_traits_shown(user) -> Callable[[dict], dict]:
    """How `user` sees a member's traits: `traits`, masked unless they may see personal data,
    and `country` (as masked: shown only where the catalogue knows it is not personal)."""
    personal = can_view_personal_data(user)

    def shown(traits: dict) -> dict:
        visible = traits if personal else mask_traits(traits)
        return {"traits": visible, "country": _country(visible or {})}

    return shown


def _audit_members_shown(user, segment: Segment | None, profile_ids: list[int]) -> None:
    """Members' personal data shown unmasked (a members page, a preview's sample): audited."""
    if profile_ids and can_view_personal_data(user):
        audit_record(
            user=user,
            action=AuditAction.SEGMENT_MEMBERS_VIEW,
            detail={"segment_id": segment.pk if segment else None, "profile_ids": profile_ids},
            sender=Segment,
        )


TOO_EXPENSIVE_LIVE = (
    "This segment is too expensive to count live; save it and it is computed in the background."
)
TOO_MANY_LIVE = "Other counts of yours are still running. Wait a moment, then try again."


def segment_preview_live(user, definition: dict, *, self_id: int | None = None) -> dict:
    """`segment_preview` as a person's request may run it: within a cost cap, a time limit per
    statement, and a few at a time per person.

    Raises `TooExpensiveError` for a definition whose cost is over `CDP_LIVE_PREVIEW_MAX_COST`
    (before anything runs) or whose query outlasts `CDP_LIVE_QUERY_TIMEOUT_MS`, and
    `TooManyRequestsError` while `CDP_LIVE_PREVIEWS_PER_USER` of theirs are running. A saved
    segment is computed in the background whatever its cost (under its refresh budget).
    """
    from .cost import definition_cost

    if definition_cost(definition, segment_definition_lookup) > settings.CDP_LIVE_PREVIEW_MAX_COST:
        raise TooExpensiveError(TOO_EXPENSIVE_LIVE)
    timeout_ms = settings.CDP_LIVE_QUERY_TIMEOUT_MS
    try:
        # Held at most twice the time limit: a count a killed process never gave back frees
        # its slot after that.
        with slot(
            f"live-preview:{user.pk}",
            settings.CDP_LIVE_PREVIEWS_PER_USER,
            ttl=max(2, 2 * timeout_ms // 1000),
        ):
            return segment_preview(definition, self_id=self_id, timeout_ms=timeout_ms)
    except SlotsTakenError:
        raise TooManyRequestsError(TOO_MANY_LIVE, retry_after=1) from None
    except OperationalError as error:
        if is_statement_timeout(error):
            raise TooExpensiveError(TOO_EXPENSIVE_LIVE) from None
        raise


def segment_preview_for_user(user, definition: dict, *, segment: Segment | None = None) -> dict:
    """`segment_preview_live` for the builder: the sample as `rows` the way `user` may see them."""
    preview = segment_preview_live(user, definition, self_id=segment.pk if segment else None)
    shown = member_traits_shown(user)
    preview["rows"] = [{"id": p.pk, **shown(p.traits)} for p in preview["sample"]]
    _audit_members_shown(user, segment, [p.pk for p in preview["sample"]])
    return preview


def segment_members_page(user, segment: Segment, page_number: str | None) -> tuple[Page, list]:
    """A page of the current members, each row with its traits as `user` may see them."""
    page = Paginator(segment_members(segment).select_related("profile"), MEMBERS_PER_PAGE).get_page(
        page_number
    )
    shown = member_traits_shown(user)
    rows = [{"membership": m, **shown(m.profile.traits)} for m in page]
    _audit_members_shown(user, segment, [m.profile_id for m in page])
    return page, rows


def segment_explanation(segment: Segment, profile_id: int) -> dict:
    """Why a profile is in (or not in) the segment; `error` when there is no such profile."""
    from .compiler import explain

    try:
        profile = profile_get_live(profile_id)
    except Http404:
        return {"error": f"No profile {profile_id}."}
    return {
        "profile_id": profile.pk,
        "tree": explain(segment.definition, profile.pk, segment_lookup=segment_definition_lookup),
    }


def definition_labels(definition: dict, user=None) -> list:
    """The definition as nested (label, children) for display; with `user`, only the names of
    the referenced segments they may open (the others show as their ids)."""
    referenced = Segment.objects.filter(pk__in=segment_references(definition))
    if user is not None:
        referenced = referenced.filter(pk__in=segment_list_for_user(user).values("pk"))
    names = dict(referenced.values_list("pk", "name"))

    def walk(node):
        return {
            "label": describe_condition(node, names),
            "children": [walk(c) for c in node.get("conditions", [])]
            if node.get("type", "group") == "group"
            else [],
        }

    return walk({**definition, "type": "group"})["children"]


def _segment_openers():
    """Active users who may open segment pages: marketers and superusers."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=Role.MARKETER.value))
        .distinct()
    )


def segment_share_targets(user, segment: Segment) -> dict:
    """Whom the share form offers: only people who can open a segment (marketers), and the
    groups with marketers in them, each with how many of its members will be able to open it."""
    users = _segment_openers().exclude(pk__in=[user.pk, segment.owner_id or 0])
    groups = (
        Group.objects.annotate(
            openers=Count(
                "user",
                filter=Q(user__is_active=True)
                & (Q(user__is_superuser=True) | Q(user__groups__name=Role.MARKETER.value)),
                distinct=True,
            )
        )
        .filter(openers__gt=0)
        .order_by("name")
    )
    return {"users": users.order_by("username"), "groups": groups}


def share_target_can_open(target) -> bool:
    """Whether sharing with this user or group lets someone open the segment."""
    if isinstance(target, Group):
        return _segment_openers().filter(groups=target).exists()
    return _segment_openers().filter(pk=target.pk).exists()


def segment_overview_for_user(user, segment: Segment, *, now: dt.datetime) -> dict:
    """Everything the segment's page shows besides its members: summary, definition, size
    history, flow, overlaps, and (for people who may change it) its shares and share targets."""
    return {
        "can_change": segment_can_change(user, segment),
        "summary": describe_condition({**segment.definition, "type": "group"}),
        "definition_tree": definition_labels(segment.definition, user),
        "snapshots": segment_snapshots(segment),
        "flow": segment_flow_per_day(segment, days=30, now=now),
        "overlaps": segment_overlaps(segment, segment_list_for_user(user))[:10],
        **segment_share_targets(user, segment),
        "shares": segment_shares(segment),
    }


def builder_field_values(*, user, kind: str, path: str, event: str = "") -> list[dict]:
    """The common values of one field for the builder's suggestions (`field_values_for_user`)."""
    return field_values_for_user(user=user, kind=kind, path=path, event=event)


def segment_builder_choices(user, *, segment: Segment | None = None) -> dict:
    """What the builder offers: catalogue fields, computed traits (key -> type), consent
    purposes, and the other segments `user` may refer to."""
    from profiles.selectors import computed_trait_fields

    return {
        "catalogue": builder_fields(),
        "computed_fields": computed_trait_fields(),
        "purposes": consent_purposes(),
        "other_segments": segment_list_for_user(user).exclude(pk=segment.pk if segment else None),
    }
