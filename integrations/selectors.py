"""Reads of the integrations app: sources by write key (cached), their names by id, and for a
person, the sources and the debugger.

Raw messages carry personal data (ids, e-mails in traits): the debugger's reads record each
showing of them in the audit log.
"""

import threading
import time
from datetime import timedelta

from django.db.models import Count
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from cdp_site.audit import AuditAction, audit_record
from cdp_site.params import id_in_range, storable_text
from profiles.models import Event

from .models import QuarantinedMessage, Source

# How long a process trusts its cached write-key lookup. Disabling a source takes effect at once
# in the process that disabled it and within this many seconds everywhere else.
WRITE_KEY_CACHE_SECONDS = 10.0

_write_keys: dict[str, tuple[float, Source]] = {}
_write_keys_lock = threading.Lock()


def source_get_by_write_key(write_key: str) -> Source | None:
    """The tracking source a write key belongs to, looked up at most once per key every few
    seconds. Connector sources have write keys too (a webhook's address is derived from its), but
    they take no tracking calls: their key answers as unknown."""
    now = time.monotonic()
    cached = _write_keys.get(write_key)
    if cached is not None and cached[0] > now:
        return cached[1]
    if len(write_key) > Source._meta.get_field("write_key").max_length or not storable_text(
        write_key
    ):
        return None
    source = Source.objects.filter(write_key=write_key, kind=Source.Kind.TRACKING_API).first()
    if source is not None:
        with _write_keys_lock:
            _write_keys[write_key] = (now + WRITE_KEY_CACHE_SECONDS, source)
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


def source_quarantined_for_user(*, user, source: Source, entry_id: int) -> QuarantinedMessage:
    """One quarantined message of the source, opened (audited); 404 if not there."""
    entry = source_quarantine_entry_get(source, entry_id)
    _debugger_audit(user, source, AuditAction.QUARANTINE_MESSAGE_VIEW, entry_id=entry.pk)
    return entry


def _debugger_audit(user, source: Source, action: AuditAction, **detail) -> None:
    audit_record(user=user, action=action, detail={"source_id": source.pk, **detail}, sender=Source)
