"""Writes of segments: create/update/duplicate/delete, sharing, refresh, export and membership.

A refresh is version-stamped and runs in one transaction holding the segment's row lock, so a
retried or overlapping run waits for the other and never mixes old and new members: the open
memberships after it are exactly the compiler's answer at that moment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from cdp_site import db
from cdp_site.audit import AuditAction, audit_record
from cdp_site.celery import task_publish
from cdp_site.errors import InUseError, InvalidInputError, NotOwnerError
from cdp_site.params import storable_text
from profiles.models import Event

from .compiler import segment_queryset
from .definition import (
    DefinitionError,
    definition_validate,
    empty_definition,
    segment_references,
)
from .models import RefreshRequest, Segment, SegmentMembership, SegmentSnapshot
from .selectors import (
    definition_rules_for,
    member_traits_shown,
    segment_can_change,
    segment_definition_lookup,
    segment_list_for_user,
    segment_members,
    segment_references_closed_to_owner,
    segments_referring_to,
)
from .signals import membership_changed

logger = logging.getLogger(__name__)


def _validated(definition: object, self_id: int | None, user=None, owner=None) -> dict:
    """The definition, valid for saving; by `user`'s rules when a person wrote it (and, for a
    segment of another `owner`, referring only to segments that owner may open too)."""
    rules = (
        definition_rules_for(user, owner=owner)
        if user is not None
        else {"segment_lookup": segment_definition_lookup}
    )
    return definition_validate(definition, self_id=self_id, **rules)


MAX_NAME_LENGTH = 200


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DefinitionError("name", "Give the segment a name.")
    if any(ord(ch) < 32 for ch in name) or not storable_text(name):
        raise DefinitionError("name", "The name may not hold control characters or broken Unicode.")
    if len(name) > MAX_NAME_LENGTH:
        raise DefinitionError(
            "name",
            f"Keep the name to {MAX_NAME_LENGTH} characters (this one has {len(name):,}).",
        )
    return name


def _check_may_change(user, segment: Segment) -> None:
    """Refuse a person who may only view the segment (shared with them for view)."""
    if user is not None and not segment_can_change(user, segment):
        raise NotOwnerError("You may view this segment only.", code="permission_denied")


@transaction.atomic
def segment_create(*, user, name: str, definition: object, description: str = "") -> Segment:
    segment = Segment.objects.create(
        name=_clean_name(name),
        description=description or "",
        definition=_validated(definition if definition else empty_definition(), None, user),
        owner=user,
        # Its first computation is queued with it: the page says so until it ends.
        status=Segment.Status.RUNNING,
    )
    _segment_audit(user, AuditAction.SEGMENT_CREATE, segment)
    _queue_refresh(segment.pk)
    return segment


def _segment_audit(actor, action: AuditAction, segment: Segment, **detail) -> None:
    """Record a change to a segment's configuration (by `actor`) in the audit log."""
    audit_record(
        user=actor,
        action=action,
        detail={"segment": segment.pk, "segment_name": segment.name, **detail},
        sender=Segment,
    )


@transaction.atomic
def segment_update(
    *,
    segment: Segment,
    name: str | None = None,
    definition: object | None = None,
    description: str | None = None,
    user=None,
) -> Segment:
    """Change a segment; `user`, the person making the change, who must be allowed to change it
    and whose rules the definition must follow (see `definition_rules_for`)."""
    _check_may_change(user, segment)
    changed = []
    if name is not None:
        name = _clean_name(name)
        if name != segment.name:
            changed.append("name")
        segment.name = name
    if description is not None:
        if description != segment.description:
            changed.append("description")
        segment.description = description
    if definition is not None:
        definition = _validated(definition, segment.pk, user, owner=segment.owner)
        if definition != segment.definition:
            changed.append("definition")
        segment.definition = definition
        segment.status = Segment.Status.RUNNING
    segment.save()
    if changed:
        _segment_audit(user, AuditAction.SEGMENT_CHANGE, segment, changed=changed)
    if definition is not None:
        _queue_refresh(segment.pk)
    return segment


def segment_duplicate(*, user, segment: Segment) -> Segment:
    return segment_create(
        user=user,
        name=f"Copy of {segment.name}"[:MAX_NAME_LENGTH],
        definition=segment.definition,
        description=segment.description,
    )


@transaction.atomic
def segment_delete(*, segment: Segment, user=None) -> None:
    """Delete a segment that no other segment refers to; `user`, the person deleting it.

    The row is locked first: a refresh in flight holds it until it commits, and the members it
    adds must be there when the delete gathers what goes with the segment (else they would be
    left pointing at a deleted segment, refused at commit)."""
    _check_may_change(user, segment)
    if not Segment.objects.select_for_update().filter(pk=segment.pk).exists():
        return
    users_of_it = [
        s.name
        for s in Segment.objects.exclude(pk=segment.pk)
        if segment.pk in segment_references(s.definition)
    ]
    if users_of_it:
        raise InUseError(
            f"Other segments use this one: {', '.join(sorted(users_of_it))}.",
            code="segment_in_use",
        )
    _segment_audit(user, AuditAction.SEGMENT_DELETE, segment)
    segment.delete()


def _share_target(user_id: int | None, group_id: int | None, *, verb: str):
    """The user or the group a share names (the user if both); refused when neither exists."""
    target = get_user_model().objects.filter(pk=user_id or 0).first()
    target = target or Group.objects.filter(pk=group_id or 0).first()
    if target is None:
        raise InvalidInputError(f"Choose a user or a group to {verb}.", field="user")
    return target


@transaction.atomic
def segment_share(
    *,
    segment: Segment,
    user,
    target_user_id: int | None = None,
    target_group_id: int | None = None,
    can_edit: bool = False,
):
    """Share with a user or a group, for view (or edit); returns who it is shared with."""
    _check_may_change(user, segment)
    target = _share_target(target_user_id, target_group_id, verb="share with")
    assign_perm("segments.view_segment", target, segment)
    if can_edit:
        assign_perm("segments.change_segment", target, segment)
    else:
        remove_perm("segments.change_segment", target, segment)
    _segment_audit(
        user,
        AuditAction.SEGMENT_SHARE,
        segment,
        access="edit" if can_edit else "view",
        **_share_target_detail(target),
    )
    return target


def _share_target_detail(target) -> dict:
    if isinstance(target, Group):
        return {"group": target.name}
    return {"user": target.get_username()}


@transaction.atomic
def segment_unshare(
    *,
    segment: Segment,
    user,
    target_user_id: int | None = None,
    target_group_id: int | None = None,
):
    """Take back a share: the user or group can neither view nor edit the segment any more.
    Returns who it was taken from."""
    _check_may_change(user, segment)
    target = _share_target(target_user_id, target_group_id, verb="stop sharing with")
    if isinstance(target, get_user_model()) and target.pk == segment.owner_id:
        raise InvalidInputError("The owner of a segment always keeps it.", field="user")
    remove_perm("segments.change_segment", target, segment)
    remove_perm("segments.view_segment", target, segment)
    # A segment only ever refers to segments its owner may open: a share that a segment of
    # someone else still needs is kept (the refusal rolls the removal back).
    losing = [
        other
        for other in segments_referring_to(segment.pk)
        if other.owner is not None
        and not other.owner.is_superuser
        and not segment_list_for_user(other.owner).filter(pk=segment.pk).exists()
    ]
    if losing:
        names = ", ".join(f"“{other.name}” (of {other.owner.get_username()})" for other in losing)
        raise InUseError(
            f"Segments that use this one would lose it: {names}. Remove the condition from "
            "them first, or share this segment with their owners directly.",
            code="segment_in_use",
        )
    _segment_audit(user, AuditAction.SEGMENT_UNSHARE, segment, **_share_target_detail(target))
    return target


def segment_refresh_request(*, segment: Segment) -> bool:
    """A person asks for a full refresh now; False if it could not be queued (broker down).

    Published at once rather than on commit: nothing is written, and the person is told
    whether it was queued.
    """
    from .tasks import segment_refresh_task

    return task_publish(segment_refresh_task, segment.pk) is not None


def _queue_refresh(segment_id: int) -> None:
    """Queue a full refresh once the change is committed; when the broker cannot take it, the
    segment no longer says it is computing (the hourly refresh will compute it)."""
    from .tasks import segment_refresh_task

    def publish() -> None:
        if task_publish(segment_refresh_task, segment_id) is None:
            Segment.objects.filter(pk=segment_id, status=Segment.Status.RUNNING).update(
                status=Segment.Status.NEVER
                if not _was_computed(segment_id)
                else Segment.Status.READY
            )

    transaction.on_commit(publish)


def _was_computed(segment_id: int) -> bool:
    return Segment.objects.filter(pk=segment_id, refreshed_at__isnull=False).exists()


@dataclass(frozen=True)
class RefreshResult:
    segment_id: int
    version: int
    entered: int
    exited: int
    size: int
    duration_ms: int


def segment_refresh(
    *, segment_id: int, profile_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> RefreshResult | None:
    """Bring the open memberships of a segment in line with its definition.

    With `profile_ids`, only those profiles are re-evaluated (real-time updates); without, all of
    them, and a snapshot of the size is recorded. Returns None if the segment is gone.
    """
    started = time.monotonic()
    now = now or timezone.now()
    ids = None if profile_ids is None else sorted(set(profile_ids))
    try:
        with db.heavy_query_transaction():
            segment = Segment.objects.select_for_update().filter(pk=segment_id).first()
            if segment is None:
                return None
            closed = segment_references_closed_to_owner(segment)
            if closed:
                path, ref = closed[0]
                raise DefinitionError(
                    path,
                    f"Segment {ref} is no longer shared with this segment's owner: remove the "
                    "condition, or ask for the segment to be shared again.",
                )
            version = segment.version + 1
            matching = segment_queryset(
                segment.definition,
                now=now,
                profile_ids=ids,
                segment_lookup=segment_definition_lookup,
                self_id=segment.pk,
            )
            open_rows = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
            if ids is None:
                # NOT EXISTS, which PostgreSQL runs as an anti-join; `NOT IN (subquery)` would
                # fall back to a per-row scan once the members no longer fit in work_mem.
                exited = open_rows.exclude(
                    Exists(matching.filter(pk=OuterRef("profile_id")))
                ).update(exited_at=now, version=version)
                entered = _insert_new_members(segment.pk, matching.values("pk"), now, version)
            else:
                exited, entered = _update_members_of(segment.pk, ids, matching, now, version)
            size = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).count()
            duration_ms = int((time.monotonic() - started) * 1000)
            fields = {"version": version, "member_count": size, "last_error": ""}
            if ids is None:
                fields |= {
                    "status": Segment.Status.READY,
                    "refreshed_at": now,
                    "refresh_duration_ms": duration_ms,
                }
                SegmentSnapshot.objects.create(
                    segment=segment,
                    taken_at=now,
                    size=size,
                    entered=entered,
                    exited=exited,
                    duration_ms=duration_ms,
                    version=version,
                    definition_digest=definition_digest(segment.definition),
                )
            Segment.objects.filter(pk=segment.pk).update(**fields)
            if entered or exited:
                # After the commit (of this transaction, or of the caller's around it).
                transaction.on_commit(
                    lambda: membership_changed.send(
                        Segment, segment_id=segment_id, entered=entered, exited=exited
                    )
                )
    except DefinitionError as error:
        Segment.objects.filter(pk=segment_id).update(
            status=Segment.Status.FAILED, last_error=str(error)
        )
        raise
    return RefreshResult(segment_id, version, entered, exited, size, duration_ms)


def definition_digest(definition: object) -> str:
    """A short fingerprint of a definition: equal for equal definitions, whatever the key order."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _update_members_of(
    segment_id: int, ids: list[int], matching, now: dt.datetime, version: int
) -> tuple[int, int]:
    """The real-time path, for a bounded list of profiles: the ones that match are read once
    and compared with the open stays in memory; returns (exited, entered).

    A correlated anti-join here was planned as a nested loop whenever the membership table had
    just grown past its statistics (seconds for each thousand profiles); two reads and two
    writes by id cost milliseconds whatever the statistics say.
    """
    member_ids = set(matching.values_list("pk", flat=True))
    open_ids: set[int] = set()
    for chunk in db.chunks(ids, 5000):
        open_ids.update(
            SegmentMembership.objects.filter(
                segment_id=segment_id, exited_at__isnull=True, profile_id__in=chunk
            ).values_list("profile_id", flat=True)
        )
    leaving = sorted(open_ids - member_ids)
    exited = 0
    for chunk in db.chunks(leaving, 5000):
        exited += SegmentMembership.objects.filter(
            segment_id=segment_id, exited_at__isnull=True, profile_id__in=chunk
        ).update(exited_at=now, version=version)
    arriving = [(segment_id, pk, now, version) for pk in sorted(member_ids - open_ids)]
    entered = db.rows_insert(
        SegmentMembership, ("segment_id", "profile_id", "entered_at", "version"), arriving
    )
    return exited, entered


def _insert_new_members(segment_id: int, members, now: dt.datetime, version: int) -> int:
    """INSERT ... SELECT the matching profiles that have no open membership yet: one statement."""
    member_sql, member_params = members.query.sql_with_params()
    table = SegmentMembership._meta.db_table
    when = connection.ops.adapt_datetimefield_value(now)
    # Table and column names are ours; values travel as parameters.
    sql = (
        f"INSERT INTO {table} (segment_id, profile_id, entered_at, version) "  # noqa: S608
        f"SELECT %s, m.pk, %s, %s FROM ({member_sql}) m "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} o WHERE o.segment_id = %s "
        "AND o.profile_id = m.pk AND o.exited_at IS NULL)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [segment_id, when, version, *member_params, segment_id])
        return max(cursor.rowcount, 0)


def segment_mark_failed(*, segment_id: int, error: str) -> None:
    Segment.objects.filter(pk=segment_id).update(
        status=Segment.Status.FAILED, last_error=error[:2000]
    )


def segment_mark_over_budget(*, segment_id: int, budget_seconds: float) -> None:
    """A refresh stopped at its time budget: logged for the operators, said on the segment."""
    logger.warning(
        "segment refresh ran over its budget",
        extra={"segment_id": segment_id, "budget_seconds": budget_seconds},
    )
    segment_mark_failed(
        segment_id=segment_id,
        error=(
            f"Computing this segment took longer than its budget of {budget_seconds:g} seconds"
            " and was stopped. Narrow its conditions (a shorter window, fewer text searches), or"
            " ask an administrator to raise CDP_SEGMENT_REFRESH_BUDGET_SECONDS."
        ),
    )


def definition_dependencies(
    definition: dict, lookup=segment_definition_lookup
) -> tuple[set[str], bool]:
    """(event names the definition counts, whether any change of a profile may decide it).

    The second is true when it reads profile state (traits, consent, identifiers), and when a
    profile may meet it without any of those events: a negation, an "at most" or "exactly"
    count, an empty group (a new profile, say).

    Referenced segments are followed, since the compiler inlines them.
    """
    names: set[str] = set()
    profile_level = False
    seen: set[int] = set()
    stack = [definition]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        kind = node.get("type", "group")
        if node.get("negate"):
            # Met by what a profile lacks: any profile, new ones included, may meet it.
            profile_level = True
        if kind == "event":
            names.add(node.get("event", ""))
            count = node.get("count") if isinstance(node.get("count"), dict) else {}
            value = count.get("value", 1)
            if count.get("operator", "at_least") != "at_least" or not (
                isinstance(value, int) and value >= 1
            ):
                # "At most" / "exactly" counts are met without that event (a new profile).
                profile_level = True
        elif kind in ("trait", "consent", "identifier"):
            profile_level = True
        elif kind == "segment":
            ref = node.get("segment")
            if isinstance(ref, int) and ref not in seen:
                seen.add(ref)
                stack.append(lookup(ref))
        else:
            conditions = node.get("conditions", [])
            if not conditions:
                # An empty group is met by everyone.
                profile_level = True
            stack.extend(conditions)
    return names, profile_level


def segments_refresh_for_profiles(
    *, profile_ids: list[int], event_names: set[str] | None = None
) -> list[RefreshResult]:
    """Re-evaluate, for just these profiles, every saved segment their change could affect:
    with `event_names`, those that test a profile-level fact or one of these events; without
    (merges and undone merges), every segment."""
    if not profile_ids:
        return []
    results = []
    for segment_id, definition in Segment.objects.values_list("pk", "definition"):
        if event_names is not None:
            names, profile_level = definition_dependencies(definition)
            if not profile_level and not (names & event_names):
                continue
        result = segment_refresh_or_mark_failed(segment_id=segment_id, profile_ids=profile_ids)
        if result:
            results.append(result)
    return results


# At most this many waiting requests are served by one real-time refresh; more queue the next.
REFRESH_PENDING_LIMIT = 20_000


def refresh_requests_for_events(
    *, event_ids: Iterable[int], between: tuple[dt.datetime, dt.datetime] | None = None
) -> int:
    """Record, for the profiles these resolved events reached, that their memberships may have
    changed (one request per profile and event name). Returns how many were recorded.

    This runs in every resolution batch: on PostgreSQL it is one INSERT ... SELECT, so the pairs
    never travel to Python and back. The events are found by their ids (the OFFSET 0 keeps the
    planner from folding in `profile_id IS NOT NULL`, whose estimate after a large backlog sends
    it scanning every resolved event instead), and by `between`, their first and last event
    time when known, so that only those months of the time-partitioned table are read."""
    ids = sorted({int(pk) for pk in event_ids})
    if not ids:
        return 0
    if db.on_postgresql():
        quote = connection.ops.quote_name
        within, params = (
            ("", []) if between is None else ('AND "timestamp" BETWEEN %s AND %s ', list(between))
        )
        return db.execute(
            f"INSERT INTO {quote(RefreshRequest._meta.db_table)} (profile_id, event) "  # noqa: S608 - models' tables
            "SELECT DISTINCT profile_id, event FROM ("
            f"SELECT profile_id, event FROM {quote(Event._meta.db_table)} "
            f"WHERE id = ANY(%s::bigint[]) {within}OFFSET 0) AS resolved "
            "WHERE profile_id IS NOT NULL",
            [db.bigint_array(ids), *params],
        )
    events = Event.objects.filter(pk__in=ids, profile_id__isnull=False)
    if between is not None:
        events = events.filter(timestamp__range=between)
    pairs = sorted(events.values_list("profile_id", "event").distinct())
    return db.rows_insert(RefreshRequest, ("profile_id", "event"), pairs)


def refresh_requests_for_profiles(*, profile_ids: Iterable[int]) -> int:
    """Record that any segment may have changed for these profiles (a merge, an undone merge)."""
    rows = [(profile_id, RefreshRequest.ANY_EVENT) for profile_id in sorted(set(profile_ids))]
    return db.rows_insert(RefreshRequest, ("profile_id", "event"), rows)


def segments_refresh_pending(*, limit: int = REFRESH_PENDING_LIMIT) -> tuple[int, bool]:
    """Serve the waiting real-time refresh requests, oldest first, up to `limit` of them, in one
    refresh of the segments they may affect. Returns (requests served, whether more wait).

    A request is deleted only after its refresh, by id: one recorded meanwhile (even for the
    same profile) waits for the next run, and a run that dies leaves its requests for the next.
    """
    claimed = list(
        RefreshRequest.objects.order_by("pk").values_list("pk", "profile_id", "event")[:limit]
    )
    if not claimed:
        return 0, False
    profile_ids = sorted({profile_id for _, profile_id, _ in claimed})
    names = {event for _, _, event in claimed}
    segments_refresh_for_profiles(
        profile_ids=profile_ids,
        event_names=None if RefreshRequest.ANY_EVENT in names else names,
    )
    served = [pk for pk, _, _ in claimed]
    for chunk in db.chunks(served, 5000):
        RefreshRequest.objects.filter(pk__in=chunk).delete()
    return len(claimed), len(claimed) == limit


def segment_refresh_or_mark_failed(
    *, segment_id: int, profile_ids: Iterable[int] | None = None
) -> RefreshResult | None:
    """`segment_refresh`, but a segment that cannot be computed is marked failed with the
    reason (shown on its page) instead of stopping the refresh of every other segment."""
    try:
        return segment_refresh(segment_id=segment_id, profile_ids=profile_ids)
    except DefinitionError as error:
        segment_mark_failed(segment_id=segment_id, error=str(error))
    except (DatabaseError, ArithmeticError, ValueError, TypeError) as error:
        # A definition saved before today's checks (a date past year 9998, say), or data the
        # database cannot compare: logged for the operators, shown to the owner.
        logger.warning("segment %s could not be computed: %s", segment_id, error)
        segment_mark_failed(
            segment_id=segment_id, error="This segment could not be computed; edit its conditions."
        )
    return None


def segments_refresh_all() -> list[int]:
    """Queue a full refresh of every saved segment; returns their ids."""
    from .tasks import segment_refresh_task

    ids = list(Segment.objects.values_list("pk", flat=True))
    for segment_id in ids:
        task_publish(segment_refresh_task, segment_id)
    return ids


def segment_export(*, user, segment: Segment) -> Iterator[list]:
    """The current members as rows (profile id, entered, e-mail, name, country), masked for
    people without personal-data access; the export is audited when it is asked for."""
    members = segment_members(segment).select_related("profile")
    audit_record(
        user=user,
        action=AuditAction.SEGMENT_EXPORT,
        detail={"segment_id": segment.pk, "segment": segment.name, "rows": members.count()},
        sender=Segment,
    )
    shown = member_traits_shown(user)

    def rows():
        yield ["profile_id", "entered_at", "email", "name", "country"]
        for m in members.iterator(chunk_size=2000):
            row = shown(m.profile.traits)
            yield [
                m.profile_id,
                m.entered_at.isoformat(),
                row["traits"].get("email", ""),
                row["traits"].get("name", ""),
                row["country"],
            ]

    return rows()
