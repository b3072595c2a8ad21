"""Consent purposes in the configuration file (`consent_purposes`), keyed by their `key`.

A purpose that people have already answered is never deleted by a file: its consent history
would go with it.
"""

import re

from cdp_site.config_as_code.fields import ItemReader
from cdp_site.config_as_code.sections import (
    Checked,
    ConfigSection,
    Context,
    Problem,
    config_section_register,
)

from .models import ConsentPurpose, ConsentRecord

FIELDS = ("key", "name", "description")
SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def _key(item: dict) -> str | None:
    key = item.get("key")
    return key.strip() if isinstance(key, str) and key.strip() else None


def consent_purposes_export() -> list[dict]:
    return [
        {"key": p.key, "name": p.name, "description": p.description}
        for p in ConsentPurpose.objects.order_by("key")
    ]


def consent_purposes_check(items: list, context: Context) -> Checked:
    problems: list[Problem] = []
    clean = []
    for index, item in enumerate(items):
        read = ItemReader(item, f"consent_purposes[{index}]", problems, FIELDS)
        key = read.text("key", required=True, max_length=64)
        if key and not SLUG.fullmatch(key):
            read.fail("key", "Letters, digits, - and _ only.")
        name = read.text("name", required=True)
        description = read.text("description", max_length=10_000)
        clean.append({"key": key, "name": name, "description": description})
    return Checked(items=clean, problems=problems)


def consent_purposes_apply(creates: list[dict], updates: list[dict], deletes: list[str]) -> None:
    ConsentPurpose.objects.bulk_create([ConsentPurpose(**item) for item in creates])
    for item in updates:
        ConsentPurpose.objects.filter(key=item["key"]).update(
            name=item["name"], description=item["description"]
        )
    if deletes:
        ConsentPurpose.objects.filter(key__in=deletes).delete()


def _delete_problem(key: str) -> str | None:
    if ConsentRecord.objects.filter(purpose__key=key).exists():
        return "people have answered it; its consent history would be lost."
    return None


config_section_register(
    ConfigSection(
        name="consent_purposes",
        order=10,
        key=_key,
        export=consent_purposes_export,
        check=consent_purposes_check,
        apply=consent_purposes_apply,
        delete_problem=_delete_problem,
    )
)
