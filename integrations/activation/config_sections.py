"""Destinations and audience syncs in the configuration file.

A destination is keyed by its name (kind, settings, secret references, the teams that may send
to it); an audience sync by its segment and destination ("Buyers → Mailchimp"), naming both and
its consent purpose by their keys, never by id. Operational state (pause, health, what a
destination holds) is not configuration and is left as it is.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import Group
from guardian.shortcuts import get_groups_with_perms

from cdp_site.config_as_code.fields import ItemReader
from cdp_site.config_as_code.sections import (
    Checked,
    ConfigSection,
    Context,
    Problem,
    config_section_register,
)
from cdp_site.errors import InvalidInputError
from segments.models import Segment

from ..config_connectors import connector_settings_check, secrets_exported
from ..models import AudienceSync, Destination
from .config import config_split
from .services import (
    _destination_class,
    audience_sync_create,
    audience_sync_update,
    destination_create,
    destination_share,
    destination_unshare,
    destination_update,
    mapping_clean,
)

DESTINATION_FIELDS = ("name", "kind", "config", "secrets", "teams")
SYNC_FIELDS = ("segment", "destination", "consent_purpose", "field_mapping", "schedule", "enabled")
ARROW = " → "
EVERY = re.compile(r"every (\d+) minutes?")
MIN_MINUTES, MAX_MINUTES = 5, 7 * 24 * 60


# -- destinations ------------------------------------------------------------------------------


def _destination_key(item: dict) -> str | None:
    name = item.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else None


def _teams(destination: Destination) -> list[str]:
    groups = get_groups_with_perms(destination, attach_perms=True)
    return sorted(group.name for group, perms in groups.items() if "use_destination" in perms)


def destinations_export() -> list[dict]:
    items = []
    for destination in Destination.objects.order_by("name"):
        item = {"name": destination.name, "kind": destination.kind}
        item["config"] = dict(destination.config)
        secrets = secrets_exported("destination", destination.name, destination.secrets_encrypted)
        if secrets:
            item["secrets"] = secrets
        item["teams"] = _teams(destination)
        items.append(item)
    return items


def _clean(cls, values: dict, stored: dict | None):
    return config_split(cls, values, keep_secrets=stored)


def destinations_check(items: list, context: Context) -> Checked:
    problems: list[Problem] = []
    stored = {d.name: d for d in Destination.objects.all()}
    groups = set(Group.objects.values_list("name", flat=True))
    clean, notes = [], {}
    for index, item in enumerate(items):
        read = ItemReader(item, f"destinations[{index}]", problems, DESTINATION_FIELDS)
        name = read.text("name", required=True)
        kind = read.text("kind", required=True, max_length=32)
        teams = sorted(set(read.text_list("teams")))
        for team in teams:
            if team not in groups:
                read.fail("teams", f"There is no team (group) “{team}” in this deployment.")
        existing = stored.get(name)
        if existing is not None and existing.kind != kind:
            read.fail("kind", f"The destination is a “{existing.kind}”; a kind cannot change.")
            continue
        try:
            cls = _destination_class(kind)
        except InvalidInputError as error:
            read.fail("kind", error.message)
            continue
        config, secrets, note = connector_settings_check(
            read,
            cls,
            stored_token=existing.secrets_encrypted if existing is not None else None,
            clean=_clean,
        )
        if note:
            notes[name] = note
        clean.append(
            {
                "name": name,
                "kind": kind,
                "config": config,
                "secrets": item.get("secrets") or {},
                "teams": teams,
                "_secrets": secrets,
            }
        )
    return Checked(items=clean, problems=problems, notes=notes)


def _teams_apply(destination: Destination, teams: list[str]) -> None:
    have = set(_teams(destination))
    for group in Group.objects.filter(name__in=set(teams) - have):
        destination_share(destination=destination, group=group)
    for group in Group.objects.filter(name__in=have - set(teams)):
        destination_unshare(destination=destination, group=group)


def destinations_apply(creates: list[dict], updates: list[dict], deletes: list[str]) -> None:
    for item in creates:
        destination = destination_create(
            kind=item["kind"], name=item["name"], values={**item["config"], **item["_secrets"]}
        )
        _teams_apply(destination, item["teams"])
    for item in updates:
        destination = Destination.objects.get(name=item["name"])
        if item["config"] != destination.config:
            destination = destination_update(
                destination=destination, name=item["name"], values=dict(item["config"])
            )
        _teams_apply(destination, item["teams"])
    # Its audience syncs, dead letters and forwards go with it (the file prunes them too).
    Destination.objects.filter(name__in=deletes).delete()


# -- audience syncs ----------------------------------------------------------------------------


def _sync_key(item: dict) -> str | None:
    segment, destination = item.get("segment"), item.get("destination")
    if isinstance(segment, str) and isinstance(destination, str):
        return f"{segment.strip()}{ARROW}{destination.strip()}"
    return None


def _sync_schedule(sync: AudienceSync) -> str:
    if sync.mode == AudienceSync.Mode.INTERVAL:
        return f"every {sync.interval_minutes} minutes"
    return str(sync.mode)


def audience_syncs_export() -> list[dict]:
    syncs = AudienceSync.objects.select_related("segment", "destination")
    items = [
        {
            "segment": sync.segment.name,
            "destination": sync.destination.name,
            "consent_purpose": sync.consent_purpose,
            "field_mapping": dict(sync.field_mapping),
            "schedule": _sync_schedule(sync),
            "enabled": sync.enabled,
        }
        for sync in syncs
    ]
    return sorted(items, key=lambda item: (item["segment"], item["destination"]))


def _schedule_parse(text: str) -> tuple[str, int] | None:
    if text in (AudienceSync.Mode.MANUAL, AudienceSync.Mode.REALTIME):
        return text, 60
    if (match := EVERY.fullmatch(text)) and MIN_MINUTES <= int(match[1]) <= MAX_MINUTES:
        return AudienceSync.Mode.INTERVAL, int(match[1])
    return None


def audience_syncs_check(items: list, context: Context) -> Checked:
    problems: list[Problem] = []
    clean = []
    segments, destinations = context.keys("segments"), context.keys("destinations")
    purposes = context.keys("consent_purposes")
    for index, item in enumerate(items):
        read = ItemReader(item, f"audience_syncs[{index}]", problems, SYNC_FIELDS)
        segment = read.text("segment", required=True)
        destination = read.text("destination", required=True)
        if segment and segment not in segments:
            read.fail("segment", f"There is no segment “{segment}” (in the file or here).")
        if destination and destination not in destinations:
            read.fail(
                "destination", f"There is no destination “{destination}” (in the file or here)."
            )
        purpose = read.text("consent_purpose", max_length=64)
        if purpose and purpose not in purposes:
            read.fail("consent_purpose", f"There is no consent purpose “{purpose}”.")
        mapping = read.mapping("field_mapping")
        try:
            mapping = mapping_clean(mapping)
        except InvalidInputError as error:
            read.fail("field_mapping", error.message)
        schedule = read.text("schedule", default=AudienceSync.Mode.MANUAL)
        if _schedule_parse(schedule) is None:
            read.fail(
                "schedule",
                f"Say manual, realtime or every N minutes ({MIN_MINUTES} to {MAX_MINUTES}).",
            )
        clean.append(
            {
                "segment": segment,
                "destination": destination,
                "consent_purpose": purpose,
                "field_mapping": mapping,
                "schedule": schedule,
                "enabled": read.boolean("enabled", default=True),
            }
        )
    return Checked(items=clean, problems=problems)


def _sync_get(item: dict) -> AudienceSync:
    return AudienceSync.objects.get(
        segment__name=item["segment"], destination__name=item["destination"]
    )


def audience_syncs_apply(creates: list[dict], updates: list[dict], deletes: list[str]) -> None:
    for item in creates:
        mode, minutes = _schedule_parse(item["schedule"])
        audience_sync_create(
            user=None,
            segment=Segment.objects.get(name=item["segment"]),
            destination=Destination.objects.get(name=item["destination"]),
            field_mapping=item["field_mapping"],
            consent_purpose=item["consent_purpose"],
            mode=mode,
            interval_minutes=minutes,
        )
        if not item["enabled"]:
            updates.append(item)
    for item in updates:
        mode, minutes = _schedule_parse(item["schedule"])
        sync = _sync_get(item)
        audience_sync_update(
            sync=sync,
            field_mapping=item["field_mapping"],
            consent_purpose=item["consent_purpose"],
            mode=mode,
            # Manual and real-time syncs keep the interval they had.
            interval_minutes=minutes
            if mode == AudienceSync.Mode.INTERVAL
            else sync.interval_minutes,
            enabled=item["enabled"],
        )
    if deletes:
        syncs = AudienceSync.objects.select_related("segment", "destination")
        doomed = [s.pk for s in syncs if f"{s.segment.name}{ARROW}{s.destination.name}" in deletes]
        AudienceSync.objects.filter(pk__in=doomed).delete()


config_section_register(
    ConfigSection(
        name="destinations",
        order=50,
        key=_destination_key,
        export=destinations_export,
        check=destinations_check,
        apply=destinations_apply,
        uncompared=("secrets", "_secrets"),
    )
)


def _syncs_using(field: str):
    def users(names: set[str]) -> set[str]:
        syncs = AudienceSync.objects.filter(**{f"{field}__name__in": names})
        return {
            f"{sync.segment.name}{ARROW}{sync.destination.name}"
            for sync in syncs.select_related("segment", "destination")
        }

    return users


config_section_register(
    ConfigSection(
        name="audience_syncs",
        order=60,
        key=_sync_key,
        export=audience_syncs_export,
        check=audience_syncs_check,
        apply=audience_syncs_apply,
        uses={"segments": _syncs_using("segment"), "destinations": _syncs_using("destination")},
    )
)
