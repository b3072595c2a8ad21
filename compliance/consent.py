"""Consent, written here and nowhere else: choices carried by events, and keeping them with
their person through merges, undone merges and rebuilds.

The receivers at the end follow the profiles signals; other apps read consent through
`compliance.selectors`. The latest record per profile and purpose is in force; every record is
kept as history.

Recording runs after every batch identity resolution commits, over all of its events: on
PostgreSQL it reads and writes through `cdp_site.db` (one parameter for the batch's ids, only
`context.consent` read back) rather than a long IN list and the whole context of each event.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import BigIntegerField, F, OuterRef, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce

from cdp_site import db
from profiles.models import Event, Profile
from profiles.selectors import profile_live

from .models import ConsentPurpose, ConsentRecord

PURPOSE_KEY = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")


def _preferences(consent: object) -> dict[str, bool]:
    """`context.consent.categoryPreferences` as {purpose: bool}; anything else is ignored."""
    if not isinstance(consent, dict):
        return {}
    prefs = consent.get("categoryPreferences")
    if not isinstance(prefs, dict):
        return {}
    return {
        str(key): value
        for key, value in prefs.items()
        if isinstance(value, bool) and PURPOSE_KEY.match(str(key))
    }


def consent_purposes_ensure(keys: Iterable[str]) -> dict[str, ConsentPurpose]:
    """The purposes with these keys, creating the unknown ones."""
    keys = set(keys)
    existing = {p.key: p for p in ConsentPurpose.objects.filter(key__in=keys)}
    missing = [
        ConsentPurpose(key=key, name=key.replace("_", " ").replace("-", " ").capitalize())
        for key in sorted(keys - existing.keys())
    ]
    if missing:
        ConsentPurpose.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {p.key: p for p in ConsentPurpose.objects.filter(key__in=keys)}
    return existing


@transaction.atomic
def consent_record_from_events(
    *, event_ids: Iterable[int], between: tuple[dt.datetime, dt.datetime] | None = None
) -> int:
    """Record the consent choices carried by these events, each event's choice once.

    Returns how many choices were not recorded yet; a concurrent capture of the same events is
    kept from writing them twice by the `consent_once_per_event` constraint. `between` (the
    events' first and last time, when known) lets PostgreSQL read only those months of the
    time-partitioned event table.
    """
    rows = _events_with_consent(list(event_ids), between)
    choices = [(row, _preferences(row["consent"])) for row in rows]
    choices = [(row, prefs) for row, prefs in choices if prefs]
    if not choices:
        return 0
    purposes = consent_purposes_ensure(key for _row, prefs in choices for key in prefs)
    already = _recorded([row["pk"] for row, _prefs in choices])
    new = [
        (
            row["profile_id"],
            purposes[key].pk,
            granted,
            row["timestamp"],
            row["source_id"],
            {"event_id": row["pk"], "message_id": row["message_id"]},
        )
        for row, prefs in choices
        for key, granted in prefs.items()
        if (row["pk"], purposes[key].pk) not in already
    ]
    _records_insert(new)
    return len(new)


def _events_with_consent(
    event_ids: list[int], between: tuple[dt.datetime, dt.datetime] | None = None
) -> list[dict]:
    """The resolved events among these that carry a consent object, oldest first.

    Each as pk, profile_id, message_id, source_id, timestamp and consent (`context.consent`).
    """
    if connection.vendor == "postgresql":
        # Unresolved events are left out here rather than in SQL: given `profile_id IS NOT NULL`
        # the planner may walk every resolved event through the profile index, where the ids
        # alone lead it to the primary key.
        events = connection.ops.quote_name(Event._meta.db_table)
        within, params = (
            ("", []) if between is None else (' AND "timestamp" BETWEEN %s AND %s', list(between))
        )
        rows = db.select(
            'SELECT id AS pk, profile_id, message_id, source_id, "timestamp", '  # noqa: S608 - a model's table
            f"context -> 'consent' AS consent FROM {events} "
            f"WHERE id = ANY(%s::bigint[]) AND context ? 'consent'{within}",
            [db.bigint_array(event_ids), *params],
            order='t."timestamp", t.pk',
            timestamps=("timestamp",),
        )
        return [row for row in rows if row["profile_id"] is not None]
    events = Event.objects.filter(
        pk__in=event_ids, profile__isnull=False, context__has_key="consent"
    )
    if between is not None:
        events = events.filter(timestamp__range=between)
    rows = list(
        events.values(
            "pk", "profile_id", "message_id", "source_id", "timestamp", "context"
        ).order_by("timestamp", "pk")
    )
    for row in rows:
        context = row.pop("context")
        row["consent"] = context.get("consent") if isinstance(context, dict) else None
    return rows


def _recorded(event_ids: list[int]) -> set[tuple]:
    """(event id, purpose id) of the choices of these events recorded already."""
    if connection.vendor == "postgresql":
        # Filtered on the text form, as `consent_once_per_event` indexes it, so the lookup is an
        # index scan rather than a pass over every record.
        rows = db.select(
            "SELECT evidence -> 'event_id' AS event_id, purpose_id "
            "FROM compliance_consentrecord "
            "WHERE evidence ? 'event_id' AND evidence ->> 'event_id' = ANY(%s::text[])",
            [db.bigint_array(event_ids)],
        )
        return {(row["event_id"], row["purpose_id"]) for row in rows}
    return set(
        ConsentRecord.objects.filter(evidence__event_id__in=event_ids).values_list(
            "evidence__event_id", "purpose_id"
        )
    )


def _records_insert(rows: list[tuple]) -> None:
    """Insert (profile, purpose, granted, recorded_at, source, evidence) records.

    One that a concurrent capture of the same event has just written is skipped.
    """
    db.rows_insert(
        ConsentRecord,
        ("profile_id", "purpose_id", "granted", "recorded_at", "source_id", "evidence"),
        rows,
        skip_conflicts=True,
    )


@transaction.atomic
def consent_follow_profiles(*, profile_ids: Iterable[int] | None) -> int:
    """Keep the consent choices of these profiles (None: of all) with their person after a
    merge, its undo or a rebuild.

    A choice an event carried goes where that event is now (to the winner of a merge, back to
    the loser when it is undone); any other choice on a merged-away profile goes to the profile
    it was merged into. Idempotent. Returns how many records moved.
    """
    records = ConsentRecord.objects.all()
    profiles = Profile.objects.all()
    if profile_ids is not None:
        ids = sorted({int(pk) for pk in profile_ids})
        if not ids:
            return 0
        records = records.filter(profile_id__in=ids)
        profiles = profiles.filter(pk__in=ids)
    moved = 0
    # Where the event is now: the live profile its stored profile is linked to, if merged away.
    event_profile = Event.objects.filter(pk=OuterRef("event_pk")).values(
        live=Coalesce("profile_link__live_id", "profile_id")
    )[:1]
    stale = (
        records.filter(evidence__has_key="event_id")
        .annotate(event_pk=Cast(KT("evidence__event_id"), BigIntegerField()))
        .annotate(now_on=Subquery(event_profile))
        .exclude(now_on__isnull=True)
        .exclude(now_on=F("profile_id"))
        .values_list("pk", "now_on")
    )
    by_target: dict[int, list[int]] = {}
    for record_pk, target in stale:
        by_target.setdefault(target, []).append(record_pk)
    for target, record_pks in by_target.items():
        moved += ConsentRecord.objects.filter(pk__in=record_pks).update(profile_id=target)
    with_records = records.values("profile_id")
    for merged in profiles.filter(merged_into__isnull=False, pk__in=with_records):
        live = profile_live(merged)
        if live.pk != merged.pk:
            moved += ConsentRecord.objects.filter(profile=merged).update(profile=live)
    return moved


def on_events_resolved(
    sender, *, profile_ids=(), event_ids=(), events_between=None, **_kwargs
) -> None:
    if event_ids:
        consent_record_from_events(event_ids=event_ids, between=events_between)


def on_profiles_merged(sender, *, merges, **_kwargs) -> None:
    consent_follow_profiles(profile_ids=[pk for pair in merges for pk in pair])


def on_profile_merge_undone(sender, *, winner_id, loser_id, **_kwargs) -> None:
    consent_follow_profiles(profile_ids=[winner_id, loser_id])


def on_profiles_rebuilt(sender, **_kwargs) -> None:
    consent_follow_profiles(profile_ids=None)
