"""Reads of the compliance app: the audit log, filtered and a page at a time, and consent.

Reading the log shows whose data others looked at, so each reading is itself recorded in it.
Other apps read consent only here: the purposes, and the profiles whose choice in force grants
one, as a subquery for their own queries.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from cdp_site.audit import LEGACY_ACTION_CODES, AuditAction, audit_record
from cdp_site.source_names import source_names
from profiles.selectors import profile_get_live

from .models import AuditEvent, ConsentPurpose, ConsentRecord

AUDIT_PAGE_SIZE = 50


def _action_code(code: str) -> str:
    """The code an action is recorded under today, for a code as stored (perhaps an older one)."""
    return str(LEGACY_ACTION_CODES.get(code, code))


def _stored_codes(action: str) -> list[str]:
    """Every code rows of `action` may be stored under: today's and the older ones."""
    return [action, *(old for old, new in LEGACY_ACTION_CODES.items() if new == action)]


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    action: str = ""
    profile_id: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive
    # Keyset cursor: the (at, id) of the last row of the previous page.
    before: tuple[dt.datetime, int] | None = None


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight UTC of `day` (the log's times and the page's dates are UTC)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def audit_actions() -> list[tuple[str, str]]:
    """(code, label) of every action the log records, for the filter's choices, by label.

    Read from `AuditAction`, not from the log: a DISTINCT over the whole append-only table on
    every view of the page grew with the log. Rows stored under an older code filter as the
    action it became (`LEGACY_ACTION_CODES`).
    """
    return sorted(((a.value, a.label) for a in AuditAction), key=lambda pair: pair[1])


def _audit_rows(filters: AuditFilter) -> QuerySet[AuditEvent]:
    """Rows matching the filters (without the page cursor), in no order."""
    rows: QuerySet[AuditEvent] = AuditEvent.objects.all()
    if filters.username:
        rows = rows.filter(username__iexact=filters.username)
    if filters.action:
        rows = rows.filter(action__in=_stored_codes(filters.action))
    if filters.profile_id is not None:
        rows = rows.filter(profile_id=filters.profile_id)
    # As ranges on `at` itself, not on its date: the index on `at` then serves them.
    if filters.since is not None:
        rows = rows.filter(at__gte=_day_start(filters.since))
    if filters.until is not None and filters.until < dt.date.max:
        # Until the calendar's last day is no upper bound (its next day does not exist).
        rows = rows.filter(at__lt=_day_start(filters.until + dt.timedelta(days=1)))
    return rows


def audit_page(filters: AuditFilter) -> tuple[list[AuditEvent], tuple[dt.datetime, int] | None]:
    """One page of matching rows, newest first, and the cursor of the next page (or None).

    Keyset paging on (at, id), not OFFSET: the log only grows, and a page deep in it costs
    the same as the first.
    """
    rows = _audit_rows(filters)
    if filters.before is not None:
        at, pk = filters.before
        rows = rows.filter(at__lt=at) | rows.filter(at=at, pk__lt=pk)
    page = list(rows.order_by("-at", "-pk")[: AUDIT_PAGE_SIZE + 1])
    if len(page) > AUDIT_PAGE_SIZE:
        page = page[:AUDIT_PAGE_SIZE]
        return page, (page[-1].at, page[-1].pk)
    return page, None


def audit_export_for_user(*, user, filters: AuditFilter, asked: dict) -> Iterator[AuditEvent]:
    """Every matching row, newest first, read in chunks as a file is written; the export is
    recorded in the log first (with the filters asked for)."""
    audit_record(
        user=user,
        action=AuditAction.AUDIT_LOG_EXPORT,
        profile_id=filters.profile_id,
        detail={"filters": asked},
        sender=AuditEvent,
    )
    return _audit_rows(filters).order_by("-at", "-pk").iterator(chunk_size=2000)


def consent_purposes() -> QuerySet[ConsentPurpose]:
    """Every purpose a person can agree to, by name."""
    return ConsentPurpose.objects.order_by("name")


def consent_purpose_names(keys) -> dict[str, str]:
    """{key: name} of the purposes among `keys`, in one query."""
    return dict(ConsentPurpose.objects.filter(key__in=list(keys)).values_list("key", "name"))


def consent_granted_profile_ids(purpose_key: str) -> QuerySet[ConsentRecord]:
    """The `profile_id` of every profile whose choice in force for this purpose is a grant.

    A subquery for other apps' queries over profiles: `Q(pk__in=...)` finds them all in one
    semi-join, and `Exists(....filter(profile_id=OuterRef("pk")))` tests one profile per row,
    never NULL (as a condition under a NOT needs).
    """
    # In force: no later record for the same profile and purpose (ties broken by id), which
    # the `consent_latest` index answers per record.
    later = ConsentRecord.objects.filter(
        profile_id=OuterRef("profile_id"), purpose_id=OuterRef("purpose_id")
    ).filter(
        Q(recorded_at__gt=OuterRef("recorded_at"))
        | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    return (
        ConsentRecord.objects.filter(purpose__key=purpose_key, granted=True)
        .filter(~Exists(later))
        .order_by()
        .values("profile_id")
    )


def consent_state(profile_id: int) -> list[dict]:
    """Per known purpose: the record in force (or None) and the full history, newest first."""
    records = list(
        ConsentRecord.objects.filter(profile_id=profile_id)
        .select_related("purpose")
        .order_by("-recorded_at", "-pk")
    )
    # Records keep a plain source id; the names come from `integrations`, once for the page.
    names = source_names(record.source_id for record in records)
    by_purpose: dict[int, list[ConsentRecord]] = {}
    for record in records:
        record.source_name = names.get(record.source_id, "")
        by_purpose.setdefault(record.purpose_id, []).append(record)
    return [
        {
            "purpose": purpose,
            "current": by_purpose.get(purpose.pk, [None])[0],
            "history": by_purpose.get(purpose.pk, []),
        }
        for purpose in consent_purposes()
    ]


def audit_log_for_user(
    *, user, filters: AuditFilter, asked: dict
) -> tuple[list[AuditEvent], tuple[dt.datetime, int] | None]:
    """`audit_page` as `user` reads it, the reading recorded with the filters `asked` for."""
    rows, cursor = audit_page(filters)
    audit_record(
        user=user,
        action=AuditAction.AUDIT_LOG_VIEW,
        profile_id=filters.profile_id,
        detail={"filters": asked, "rows": len(rows)},
        sender=AuditEvent,
    )
    return rows, cursor


def profile_consent_for_user(*, user, profile_id: int) -> list[dict]:
    """`consent_state` of a live profile (404 otherwise) as `user` reads it, the reading audited."""
    profile = profile_get_live(profile_id)
    state = consent_state(profile.pk)
    audit_record(
        user=user,
        action=AuditAction.CONSENT_VIEW,
        profile_id=profile.pk,
        detail={"purposes": len(state)},
        sender=AuditEvent,
    )
    return state


# -- Data subject requests, suppression and restriction ----------------------------------------


def suppressed_identifier_hashes(digests) -> set[str]:
    """Which keyed hashes (`compliance.suppression.identifier_digest`) are on the suppression
    list: one query, for syncs and imports to drop a suppressed person's records."""
    from .suppression import suppressed_digests

    return suppressed_digests(digests)


def identifier_hash(kind: str, value: str) -> str:
    """The keyed hash of one normalised identifier, as the suppression list keeps it."""
    from .suppression import identifier_digest

    return identifier_digest(kind, value)


def rows_suppressed(rows) -> list[int]:
    """Indexes of event store rows (`profiles.event_store.STORE_COLUMNS`) that identify a
    suppressed person: one query per batch."""
    from .suppression import rows_suppressed as find

    return find(rows)


def profile_ids_suppressed(profile_ids) -> set[int]:
    """Which of the profiles hold an identifier on the suppression list (never to be sent to a
    destination): one query for the identities, one for the list."""
    from profiles.models import Identity

    from .suppression import identifier_digest, suppressed_digests

    pairs = list(
        Identity.objects.filter(profile_id__in=list(profile_ids)).values_list(
            "profile_id", "kind", "value"
        )
    )
    digests = {(pid, identifier_digest(kind, value)) for pid, kind, value in pairs}
    hit = suppressed_digests(digest for _pid, digest in digests)
    return {pid for pid, digest in digests if digest in hit}


def suppressed_profile_ids_among(profile_ids, *, chunk: int = 20_000) -> set[int]:
    """Which of the profiles `profile_ids` (a subquery of ids) hold an identifier on the
    suppression list: nothing to read while the list is empty (the usual case); otherwise their
    identities read in one streamed query and hashed in bulk, the list asked once per chunk.

    The list keeps keyed hashes only, so the database cannot match it itself; an erased
    person's identities are gone, so a hit is someone who came back by a path that bypassed
    the ingest's drop (a profile recreated, or a value spelled anew).
    """
    from profiles.models import Identity

    from .models import Suppression
    from .suppression import _digester, suppressed_digests

    if not Suppression.objects.exists():
        return set()
    kinds = list(Suppression.objects.values_list("kind", flat=True).distinct())
    digest = _digester()
    found: set[int] = set()
    pending: list[tuple[int, str]] = []

    def flush() -> None:
        hit = suppressed_digests(d for _pid, d in pending)
        found.update(pid for pid, d in pending if d in hit)
        pending.clear()

    identities = (
        Identity.objects.filter(profile_id__in=profile_ids, kind__in=kinds)
        .order_by()
        .values_list("profile_id", "kind", "value")
    )
    for pid, kind, value in identities.iterator(chunk_size=chunk):
        pending.append((pid, digest(kind, value)))
        if len(pending) >= chunk:
            flush()
    if pending:
        flush()
    return found


def restricted_profile_ids():
    """Profile ids whose person restricted or objected to processing, as a subquery (values
    list) for activation to leave them out of marketing audiences and ad destinations."""
    from .models import Restriction

    return Restriction.objects.values_list("profile_id", flat=True)


def profile_is_restricted(profile_id: int) -> bool:
    """Whether the person restricted or objected (a restriction names every profile of theirs)."""
    from .models import Restriction

    return Restriction.objects.filter(profile_id=profile_id).exists()


def request_list(*, type: str = "", status: str = "", assignee: str = ""):
    """The request queue, soonest deadline first; open requests unless a status is asked for."""
    from .models import DataSubjectRequest

    rows = DataSubjectRequest.objects.select_related("assignee")
    if type:
        rows = rows.filter(type=type)
    if status == "all":
        pass
    elif status:
        rows = rows.filter(status=status)
    else:
        rows = rows.exclude(
            status__in=[DataSubjectRequest.Status.COMPLETED, DataSubjectRequest.Status.REJECTED]
        )
    if assignee == "-":
        rows = rows.filter(assignee__isnull=True)
    elif assignee:
        rows = rows.filter(assignee__username=assignee)
    return rows.order_by("due_on", "pk")


def request_get(*, request_id: int):
    """One request, or 404. Only the compliance pages and API (role-checked) call it."""
    from django.shortcuts import get_object_or_404

    from .models import DataSubjectRequest

    return get_object_or_404(DataSubjectRequest.objects.select_related("assignee"), pk=request_id)


def request_open_for_user(*, user, request_id: int):
    """One request, its opening recorded in the audit log (it names a person)."""
    from .models import DataSubjectRequest

    request = request_get(request_id=request_id)
    audit_record(
        user=user,
        action=AuditAction.REQUEST_VIEW,
        detail={"request": request.pk, "type": request.type},
        sender=DataSubjectRequest,
    )
    return request


def request_profiles(request) -> list[dict]:
    """The profiles the request's identifiers lead to (merged-away ones included), for the
    officer to see whom it is about before running it."""
    from profiles.models import Profile

    from .erasure.subject import subject_build

    subject = subject_build(request.identifiers, request.subject)
    profiles = Profile.objects.filter(pk__in=list(subject.profile_ids)).order_by("pk")
    return [
        {
            "id": profile.pk,
            "merged_into": profile.merged_into_id,
            "first_seen": profile.first_seen,
            "last_seen": profile.last_seen,
            "name": (profile.traits or {}).get("name", ""),
        }
        for profile in profiles
    ]


def suppression_summary() -> dict:
    """Counts only, never values: identifiers on the list by kind, and drops per source."""
    from django.db.models import Count, Sum

    from .models import SuppressedDrop, Suppression

    by_kind = list(Suppression.objects.values("kind").annotate(n=Count("pk")).order_by("kind"))
    drops = list(
        SuppressedDrop.objects.values("source_id").annotate(n=Sum("count")).order_by("source_id")
    )
    names = source_names({row["source_id"] for row in drops})
    for row in drops:
        row["source"] = names.get(row["source_id"], f"Source {row['source_id']}")
    return {
        "identifiers": sum(row["n"] for row in by_kind),
        "by_kind": by_kind,
        "persons": Suppression.objects.values("request_id").distinct().count(),
        "drops": drops,
        "dropped": sum(row["n"] for row in drops),
    }
