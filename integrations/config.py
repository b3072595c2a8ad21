"""Sources in the configuration file (`sources`), keyed by name, with their schedules; the
destinations and audience syncs are in `activation.config_sections`.

A tracking API source is its name and whether it is enabled: its write key is a credential,
never exported, and a new one gets a fresh key. A connector source adds its kind, settings,
secret references and, for pull sources, its schedule ("off", "hourly", "every 30 minutes",
"daily at 03:00", UTC).
"""

from __future__ import annotations

import re
from datetime import time

from cdp_site.config_as_code.fields import ItemReader
from cdp_site.config_as_code.sections import (
    Checked,
    ConfigSection,
    Context,
    Problem,
    config_section_register,
)
from cdp_site.errors import InvalidInputError
from profiles.selectors import source_has_events

from .activation import config_sections as _activation_sections  # noqa: F401 (registers them)
from .config_connectors import connector_settings_check, secrets_exported
from .connectors.registry import connector_class
from .models import Source
from .services import source_create, source_delete, source_enabled_set
from .sources import connector_values_clean, source_connector_create, source_connector_update
from .sync.schedules import MAX_EVERY_MINUTES, MIN_EVERY_MINUTES, source_schedule_set

FIELDS = ("name", "kind", "enabled", "schedule", "config", "secrets")
EVERY = re.compile(r"every (\d+) minutes?")
DAILY = re.compile(r"daily at ([01]\d|2[0-3]):([0-5]\d)")


def _key(item: dict) -> str | None:
    name = item.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else None


def schedule_text(source: Source) -> str:
    if source.schedule == Source.Schedule.MINUTES:
        return f"every {source.schedule_every_minutes} minutes"
    if source.schedule == Source.Schedule.DAILY:
        return f"daily at {(source.schedule_at or time(3, 0)):%H:%M}"
    return str(source.schedule)


def schedule_parse(text: str) -> tuple[str, int | None, time | None] | None:
    """(schedule, every minutes, daily time) from the file's words, or None."""
    if text in ("off", "hourly"):
        return text, None, None
    if match := EVERY.fullmatch(text):
        minutes = int(match[1])
        if MIN_EVERY_MINUTES <= minutes <= MAX_EVERY_MINUTES:
            return Source.Schedule.MINUTES, minutes, None
        return None
    if match := DAILY.fullmatch(text):
        return Source.Schedule.DAILY, None, time(int(match[1]), int(match[2]))
    return None


def _pulls(kind: str) -> bool:
    try:
        return connector_class(kind).pulls
    except InvalidInputError:
        # A kind no installed connector knows: its settings are exported as they are, and
        # applying them says what is wrong.
        return False


def sources_export() -> list[dict]:
    items = []
    for source in Source.objects.order_by("name"):
        item = {"name": source.name, "kind": source.kind, "enabled": source.enabled}
        if not source.is_tracking:
            if _pulls(source.kind):
                item["schedule"] = schedule_text(source)
            item["config"] = dict(source.config)
            secrets = secrets_exported("source", source.name, source.secrets_encrypted)
            if secrets:
                item["secrets"] = secrets
        items.append(item)
    return items


def _clean(cls, values: dict, stored: dict | None):
    return connector_values_clean(cls, values, stored_secrets=stored)


def sources_check(items: list, context: Context) -> Checked:
    problems: list[Problem] = []
    stored = {s.name: s for s in Source.objects.all()}
    folded = {name.casefold(): name for name in stored}
    clean, notes = [], {}
    for index, item in enumerate(items):
        read = ItemReader(item, f"sources[{index}]", problems, FIELDS)
        name = read.text("name", required=True)
        kind = read.text("kind", default=Source.Kind.TRACKING_API, max_length=32)
        enabled = read.boolean("enabled", default=True)
        existing = stored.get(name)
        if existing is not None and existing.kind != kind:
            read.fail("kind", f"The source is a “{existing.kind}”; a kind cannot change.")
            continue
        # Source names are unique whatever their case.
        twin = folded.get(name.casefold())
        if existing is None and twin is not None:
            read.fail("name", f"A source “{twin}” exists; names differ by more than case.")
        entry = {"name": name, "kind": kind, "enabled": enabled}
        if kind == Source.Kind.TRACKING_API:
            for field in ("schedule", "config", "secrets"):
                if field in item:
                    read.fail(field, "A tracking API source has no such setting.")
            clean.append(entry)
            continue
        try:
            cls = connector_class(kind)
        except InvalidInputError as error:
            read.fail("kind", error.message)
            continue
        if cls.kind != "source":
            read.fail("kind", f"“{cls.label}” is not a source.")
            continue
        if cls.pulls:
            schedule = read.text("schedule", default="off")
            if schedule_parse(schedule) is None:
                read.fail(
                    "schedule",
                    f"Say off, hourly, every N minutes ({MIN_EVERY_MINUTES} to "
                    f"{MAX_EVERY_MINUTES}) or daily at HH:MM.",
                )
            entry["schedule"] = schedule
        elif "schedule" in item:
            read.fail("schedule", f"{cls.label} sources receive data; they have no schedule.")
        config, secrets, note = connector_settings_check(
            read,
            cls,
            stored_token=existing.secrets_encrypted if existing is not None else None,
            clean=_clean,
        )
        entry["config"] = config
        entry["secrets"] = item.get("secrets") or {}
        entry["_secrets"] = secrets
        if note:
            notes[name] = note
        clean.append(entry)
    return Checked(items=clean, problems=problems, notes=notes)


def _schedule_apply(source: Source, text: str) -> None:
    schedule, minutes, at = schedule_parse(text)
    if schedule_text(source) != text:
        source_schedule_set(source=source, schedule=schedule, every_minutes=minutes, at=at)


def sources_apply(creates: list[dict], updates: list[dict], deletes: list[str]) -> None:
    for item in creates:
        if item["kind"] == Source.Kind.TRACKING_API:
            source = source_create(name=item["name"])
        else:
            source = source_connector_create(
                name=item["name"], kind=item["kind"], values={**item["config"], **item["_secrets"]}
            )
            if "schedule" in item:
                _schedule_apply(source, item["schedule"])
        if not item["enabled"]:
            source_enabled_set(source=Source.objects.get(pk=source.pk), enabled=False)
    for item in updates:
        source = Source.objects.get(name=item["name"])
        if item["kind"] != Source.Kind.TRACKING_API:
            if item["config"] != source.config:
                source = source_connector_update(source=source, values=dict(item["config"]))
            if "schedule" in item:
                _schedule_apply(source, item["schedule"])
        source = Source.objects.get(pk=source.pk)
        if source.enabled != item["enabled"]:
            source_enabled_set(source=source, enabled=item["enabled"])
    for source in Source.objects.filter(name__in=deletes):
        source_delete(source=source)


def _delete_problem(name: str) -> str | None:
    source = Source.objects.filter(name=name).first()
    if source is not None and source_has_events(source_id=source.pk):
        return "it has events; disable it instead (enabled: false)."
    return None


config_section_register(
    ConfigSection(
        name="sources",
        order=30,
        key=_key,
        export=sources_export,
        check=sources_check,
        apply=sources_apply,
        uncompared=("secrets", "_secrets"),
        delete_problem=_delete_problem,
    )
)
