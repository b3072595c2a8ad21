"""Reads of the integrations app: sources by write key (cached), their names by id, and for a
person, the sources and the debugger.

Raw messages carry personal data (ids, e-mails in traits): the debugger's reads record each
showing of them in the audit log, and show them masked by the data catalogue's classes to people
who see personal data masked (as integration admins do).
"""

import threading
import time
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from cdp_site.audit import AuditAction, audit_record
from cdp_site.params import id_in_range, storable_text
from profiles.masking import (
    can_view_personal_data,
    mask_event_payload,
    mask_identifier,
    mask_raw_message,
)
from profiles.models import Event
from profiles.selectors import source_has_events

from .models import QuarantinedMessage, Source

# How long a process trusts its cached write-key lookup. Disabling a source takes effect at once
# in the process that disabled it and within this many seconds everywhere else.
WRITE_KEY_CACHE_SECONDS = 10.0

_write_keys: dict[str, tuple[float, Source]] = {}
_write_keys_lock = threading.Lock()


def source_get_by_write_key(write_key: str) -> Source | None:
    """The tracking source a write key belongs to, looked up at most once per key every few
    seconds. Connector sources have write keys too (a webhook's address is derived from its), but
    they take no tracking calls: their key answers as unknown.

    A key replaced by a rotation still answers for its source until its grace period ends; the
    cached answer for it lasts no longer than that.
    """
    now = time.monotonic()
    cached = _write_keys.get(write_key)
    if cached is not None and cached[0] > now:
        return cached[1]
    if (
        not write_key
        or len(write_key) > Source._meta.get_field("write_key").max_length
        or not storable_text(write_key)
    ):
        return None
    wall_now = timezone.now()
    source = (
        Source.objects.filter(kind=Source.Kind.TRACKING_API)
        .filter(
            Q(write_key=write_key)
            | Q(previous_write_key=write_key, previous_key_expires_at__gt=wall_now)
        )
        .first()
    )
    if source is not None:
        keep = WRITE_KEY_CACHE_SECONDS
        if source.write_key != write_key:
            keep = min(keep, (source.previous_key_expires_at - wall_now).total_seconds())
        with _write_keys_lock:
            _write_keys[write_key] = (now + keep, source)
    return source


def write_key_cache_clear() -> None:
    with _write_keys_lock:
        _write_keys.clear()


def source_names_by_id(ids: set[int]) -> dict[int, str]:
    """{id: name} of the sources among `ids`, in one query: the provider behind
    `cdp_site.source_names`, through which `profiles` names the sources of its rows."""
    return dict(Source.objects.filter(pk__in=ids).values_list("pk", "name"))


def source_list_for_user(user, perm: str = "integrations.view_source"):
    """Sources the person may see: every one with the model permission, else those granted."""
    return get_objects_for_user(user, perm, klass=Source).order_by("name")


def source_get_for_user(user, pk: int, perm: str = "integrations.view_source") -> Source:
    """The one door to a source a person asked for; 404 when they may not see or act on it."""
    source = source_list_for_user(user, perm).filter(pk=pk).first()
    if source is None:
        raise Http404("No such source.")
    return source


def source_latest_events(source: Source, limit: int = 50) -> list[Event]:
    return list(Event.objects.filter(source_id=source.pk).order_by("-received_at", "-id")[:limit])


def source_type_counts(source: Source, hours: int = 24) -> dict[str, int]:
    """Messages stored per type in the last `hours`, every type listed (zero when none)."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        Event.objects.filter(source_id=source.pk, received_at__gte=since)
        .values("type")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(Event.Type.values, 0)
    counts.update({row["type"]: row["n"] for row in rows})
    return counts


def source_quarantine_pending(source: Source):
    """The source's waiting quarantined messages, newest first (a queryset, for paging)."""
    return QuarantinedMessage.objects.filter(
        source=source, status=QuarantinedMessage.Status.PENDING
    ).order_by("-received_at", "-id")


def source_quarantine(source: Source, limit: int = 50) -> list[QuarantinedMessage]:
    return list(source_quarantine_pending(source)[:limit])


def source_quarantine_entry_get(source: Source, entry_id: int) -> QuarantinedMessage:
    entry = (
        QuarantinedMessage.objects.filter(source=source, pk=entry_id).first()
        if id_in_range(entry_id)
        else None
    )
    if entry is None:
        raise Http404("No such quarantined message.")
    return entry


def source_event_get(source: Source, event_id: int) -> Event:
    event = (
        Event.objects.filter(source_id=source.pk, pk=event_id).first()
        if id_in_range(event_id)
        else None
    )
    if event is None:
        raise Http404("No such message.")
    return event


def source_quarantine_count(source: Source) -> int:
    return QuarantinedMessage.objects.filter(
        source=source, status=QuarantinedMessage.Status.PENDING
    ).count()


def event_as_message(event: Event) -> dict:
    """An event back in the Segment spec shape the client sent, as the debugger shows it."""
    message = {
        "type": event.type,
        "messageId": event.message_id,
        "userId": event.user_id or None,
        "anonymousId": event.anonymous_id or None,
        "event": event.event or None,
        "name": event.name or None,
        "groupId": event.group_id or None,
        "previousId": event.previous_id or None,
        "traits": event.traits or None,
        "properties": event.properties or None,
        "context": event.context or None,
        "integrations": event.integrations or None,
        "timestamp": event.timestamp.isoformat(),
        "originalTimestamp": event.original_timestamp.isoformat()
        if event.original_timestamp
        else None,
        "sentAt": event.sent_at.isoformat() if event.sent_at else None,
        "receivedAt": event.received_at.isoformat(),
    }
    return {key: value for key, value in message.items() if value is not None}


# The debugger lists summaries only; each message's JSON is fetched when it is opened, so that a
# page refreshed every 2 seconds stays small whatever the messages weigh.
DEBUGGER_QUARANTINE_SHOWN = 20


def source_debugger_for_user(*, user, source: Source, seen_up_to: int | None) -> dict:
    """What the live debugger shows: the latest messages, counts per type and the quarantine,
    with `seen_up_to`, the newest message id the person has now seen (None: none yet).

    Opening the debugger (`seen_up_to` None) is audited; a poll only when it shows messages
    newer than `seen_up_to`: once per new batch rather than every two seconds.
    """
    events = source_latest_events(source)
    if seen_up_to is None:
        _debugger_audit(user, source, AuditAction.SOURCE_DEBUGGER_VIEW, shown=len(events))
        seen_up_to = max((event.pk for event in events), default=None)
    else:
        new = [event.pk for event in events if event.pk > seen_up_to]
        if new:
            _debugger_audit(user, source, AuditAction.SOURCE_DEBUGGER_POLL, event_ids=new)
            seen_up_to = max(event.pk for event in events)
    full = can_view_personal_data(user)
    for event in events:
        # The id the summary line names, masked for people who see personal data masked.
        sender = event.user_id or event.anonymous_id
        event.shown_id = sender if full or not sender else mask_identifier("id", sender)
    return {
        "events": events,
        "counts": source_type_counts(source),
        "quarantine": source_quarantine(source, limit=DEBUGGER_QUARANTINE_SHOWN),
        "quarantine_count": source_quarantine_count(source),
        "seen_up_to": seen_up_to,
    }


def source_message_for_user(*, user, source: Source, event_id: int) -> Event:
    """One stored message of the source, opened in the debugger (audited); 404 if not there."""
    event = source_event_get(source, event_id)
    _debugger_audit(user, source, AuditAction.SOURCE_MESSAGE_VIEW, event_id=event.pk)
    return event


def message_payload_for_user(*, user, event: Event) -> dict:
    """A stored message as the debugger shows it to `user`: masked by the data catalogue's
    classes unless they may see personal data."""
    message = event_as_message(event)
    return message if can_view_personal_data(user) else mask_event_payload(message)


def quarantined_payload_for_user(*, user, entry: QuarantinedMessage) -> str | None:
    """A quarantined message's text for `user`, masked unless they may see personal data; None
    when they may see it as it was sent."""
    return None if can_view_personal_data(user) else mask_raw_message(entry.payload)


def source_quarantined_for_user(*, user, source: Source, entry_id: int) -> QuarantinedMessage:
    """One quarantined message of the source, opened (audited); 404 if not there."""
    entry = source_quarantine_entry_get(source, entry_id)
    _debugger_audit(user, source, AuditAction.QUARANTINE_MESSAGE_VIEW, entry_id=entry.pk)
    return entry


def _debugger_audit(user, source: Source, action: AuditAction, **detail) -> None:
    audit_record(user=user, action=action, detail={"source_id": source.pk, **detail}, sender=Source)


# -- The record of processing (GDPR Art. 30) reads the live configuration through these --------

TRACKING_DESCRIPTION = (
    "Calls from websites and apps in the Segment Tracking Spec (identify, track, page, screen, "
    "group, alias), sent with the source's write key."
)
# Event names listed per source; the rest are counted.
PROCESSING_EVENT_NAMES = 30
# The record reads what sources collect from the newest events only, so opening the page costs
# the same whatever the event table holds.
PROCESSING_SAMPLE_EVENTS = 100_000


def _connector_facts(kind: str) -> tuple[str, str]:
    """(label, description) of a source's kind, as a person reads it."""
    from cdp_site.errors import InvalidInputError

    from .connectors.registry import connector_class

    if kind == Source.Kind.TRACKING_API:
        return Source.Kind.TRACKING_API.label, TRACKING_DESCRIPTION
    try:
        cls = connector_class(kind)
    except InvalidInputError:
        return kind, ""
    return cls.label, cls.description


def processing_sources(*, days: int = 90) -> list[dict]:
    """Every source with what it collects, as seen in the events it stored in the last `days`:
    its kind's label and description, message types, event names and the trait keys (top-level
    `traits` and `context.traits`), read from the newest `PROCESSING_SAMPLE_EVENTS` events of
    that period. Grouped queries for all sources together."""
    from django.db import connection
    from django.db.models import Max

    from cdp_site.db import on_postgresql

    since = timezone.now() - timedelta(days=days)
    newest = Event.objects.aggregate(newest=Max("id"))["newest"] or 0
    floor = newest - PROCESSING_SAMPLE_EVENTS
    sources = list(Source.objects.order_by("name"))
    types: dict[int, set[str]] = {}
    names: dict[int, list[str]] = {}
    name_counts: dict[int, int] = {}
    rows = (
        Event.objects.filter(received_at__gte=since, id__gt=floor)
        .values_list("source_id", "type", "event")
        .annotate(n=Count("id"))
        .order_by("source_id", "-n", "event")
    )
    for source_id, kind, event_name, _count in rows:
        types.setdefault(source_id, set()).add(kind)
        if event_name:
            name_counts[source_id] = name_counts.get(source_id, 0) + 1
            listed = names.setdefault(source_id, [])
            if len(listed) < PROCESSING_EVENT_NAMES and event_name not in listed:
                listed.append(event_name)
    trait_keys: dict[int, list[str]] = {}
    if not on_postgresql():
        seen: dict[int, set[str]] = {}
        sample = Event.objects.filter(received_at__gte=since, id__gt=floor).values_list(
            "source_id", "traits", "context"
        )
        for source_id, traits, context in sample.iterator(chunk_size=2000):
            keys = seen.setdefault(source_id, set())
            for found in (
                traits,
                (context or {}).get("traits") if isinstance(context, dict) else None,
            ):
                if isinstance(found, dict):
                    keys.update(found)
        trait_keys = {source_id: sorted(keys) for source_id, keys in seen.items()}
    else:
        # The table name is the model's own, never input. The keys only, never the values; a
        # non-object `traits` contributes none.
        table = connection.ops.quote_name(Event._meta.db_table)
        sql = f"""
            SELECT DISTINCT e.source_id, k.key
            FROM {table} e
            CROSS JOIN LATERAL (
                SELECT jsonb_object_keys(CASE WHEN jsonb_typeof(e.traits) = 'object'
                                              THEN e.traits ELSE '{{}}'::jsonb END)
                UNION
                SELECT jsonb_object_keys(CASE WHEN jsonb_typeof(e.context -> 'traits') = 'object'
                                              THEN e.context -> 'traits' ELSE '{{}}'::jsonb END)
            ) AS k(key)
            WHERE e.received_at >= %s AND e.id > %s
            ORDER BY e.source_id, k.key
        """  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [since, floor])
            for source_id, key in cursor.fetchall():
                trait_keys.setdefault(source_id, []).append(key)
    result = []
    for source in sources:
        label, description = _connector_facts(source.kind)
        result.append(
            {
                "id": source.pk,
                "name": source.name,
                "kind": source.kind,
                "kind_label": label,
                "description": description,
                "enabled": source.enabled,
                "message_types": sorted(types.get(source.pk, ())),
                "event_names": names.get(source.pk, []),
                "event_names_more": max(
                    name_counts.get(source.pk, 0) - len(names.get(source.pk, [])), 0
                ),
                "trait_keys": trait_keys.get(source.pk, []),
            }
        )
    return result


def processing_destinations() -> list[dict]:
    """Every destination that receives personal data: its name, kind, the consent purposes its
    audience syncs send for, and the segments synced to it (two queries)."""
    from .models import AudienceSync, Destination

    purposes: dict[int, set[str]] = {}
    audiences: dict[int, list[str]] = {}
    syncs = AudienceSync.objects.select_related("segment").order_by("segment__name")
    for sync in syncs:
        audiences.setdefault(sync.destination_id, []).append(sync.segment.name)
        if sync.consent_purpose:
            purposes.setdefault(sync.destination_id, set()).add(sync.consent_purpose)
    result = []
    for destination in Destination.objects.order_by("name"):
        label, description = _connector_facts(destination.kind)
        result.append(
            {
                "id": destination.pk,
                "name": destination.name,
                "kind_label": label,
                "description": description,
                "purpose": ", ".join(sorted(purposes.get(destination.pk, ()))),
                "enabled": not destination.paused,
                "audiences": audiences.get(destination.pk, []),
            }
        )
    return result


def source_events_per_day(source: Source, days: int = 14) -> list[dict]:
    """Events the source stored per day (UTC, by arrival) over the last `days` days, oldest
    first, every day listed. One grouped read of the source's (source, received_at) index."""
    today = timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    rows = (
        Event.objects.filter(
            source_id=source.pk,
            received_at__gte=datetime.combine(first, datetime.min.time(), tzinfo=UTC),
        )
        .annotate(day=TruncDate("received_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("*"))
        .order_by()
    )
    counts = {row["day"]: row["n"] for row in rows}
    return [
        {
            "day": first + timedelta(days=offset),
            "count": counts.get(first + timedelta(days=offset), 0),
        }
        for offset in range(days)
    ]


def source_deletable(source: Source) -> bool:
    """Whether the source may be deleted: it stored no event (they keep its id)."""
    return not source_has_events(source_id=source.pk)
