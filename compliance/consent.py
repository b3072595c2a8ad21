"""Consent: recording choices carried by events, and reading the state in force per purpose.

The latest record per profile and purpose is in force; every record is kept as history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import transaction

from profiles.models import Event

from .models import ConsentPurpose, ConsentRecord

PURPOSE_KEY = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")


def _preferences(context: object) -> dict[str, bool]:
    """`context.consent.categoryPreferences` as {purpose: bool}; anything else is ignored."""
    if not isinstance(context, dict):
        return {}
    consent = context.get("consent")
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
def consent_record_from_events(*, event_ids: Iterable[int]) -> int:
    """Record the consent choices carried by these events, each event's choice once.

    Returns how many choices were not recorded yet; a concurrent capture of the same events is
    kept from writing them twice by the `consent_once_per_event` constraint.
    """
    rows = list(
        Event.objects.filter(
            pk__in=list(event_ids), profile__isnull=False, context__has_key="consent"
        )
        .values("pk", "profile_id", "message_id", "source_id", "timestamp", "context")
        .order_by("timestamp", "pk")
    )
    choices = [(row, _preferences(row["context"])) for row in rows]
    choices = [(row, prefs) for row, prefs in choices if prefs]
    if not choices:
        return 0
    purposes = consent_purposes_ensure(key for _row, prefs in choices for key in prefs)
    already = set(
        ConsentRecord.objects.filter(
            evidence__event_id__in=[row["pk"] for row, _prefs in choices]
        ).values_list("evidence__event_id", "purpose_id")
    )
    new = [
        ConsentRecord(
            profile_id=row["profile_id"],
            purpose=purposes[key],
            granted=granted,
            recorded_at=row["timestamp"],
            source_id=row["source_id"],
            evidence={"event_id": row["pk"], "message_id": row["message_id"]},
        )
        for row, prefs in choices
        for key, granted in prefs.items()
        if (row["pk"], purposes[key].pk) not in already
    ]
    created = ConsentRecord.objects.bulk_create(new, ignore_conflicts=True)
    return len(created)


def consent_state(profile_id: int) -> list[dict]:
    """Per known purpose: the record in force (or None) and the full history, newest first."""
    records = list(
        ConsentRecord.objects.filter(profile_id=profile_id)
        .select_related("purpose", "source")
        .order_by("-recorded_at", "-pk")
    )
    by_purpose: dict[int, list[ConsentRecord]] = {}
    for record in records:
        by_purpose.setdefault(record.purpose_id, []).append(record)
    return [
        {
            "purpose": purpose,
            "current": by_purpose.get(purpose.pk, [None])[0],
            "history": by_purpose.get(purpose.pk, []),
        }
        for purpose in ConsentPurpose.objects.order_by("name")
    ]


def on_events_resolved(sender, *, profile_ids=(), event_ids=(), **_kwargs) -> None:
    if event_ids:
        consent_record_from_events(event_ids=event_ids)
