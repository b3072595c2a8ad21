"""Identity rules in the configuration file (`identity_rules`), keyed by identifier kind.

A rule applies to events resolved after it changes; `manage.py rebuild` applies it to the past.
"""

import re

from django.utils import timezone

from cdp_site.audit import AuditAction, audit_record
from cdp_site.config_as_code.fields import ItemReader
from cdp_site.config_as_code.sections import (
    Checked,
    ConfigSection,
    Context,
    Problem,
    config_section_register,
)

from .identity_rules import identity_rules_changed
from .models import IdentityRule

FIELDS = ("kind", "limit", "priority", "blocked_values")


def _key(item: dict) -> str | None:
    kind = item.get("kind")
    return kind.strip() if isinstance(kind, str) and kind.strip() else None


def identity_rules_export() -> list[dict]:
    return [
        {
            "kind": rule.kind,
            "limit": rule.limit,
            "priority": rule.priority,
            "blocked_values": list(rule.blocked_values or []),
        }
        for rule in IdentityRule.objects.order_by("kind")
    ]


def identity_rules_check(items: list, context: Context) -> Checked:
    problems: list[Problem] = []
    clean = []
    for index, item in enumerate(items):
        read = ItemReader(item, f"identity_rules[{index}]", problems, FIELDS)
        blocked = read.text_list("blocked_values")
        for position, pattern in enumerate(blocked):
            try:
                re.compile(pattern)
            except re.error as error:
                read.fail(f"blocked_values[{position}]", f"Not a regular expression: {error}.")
        clean.append(
            {
                "kind": read.text("kind", required=True, max_length=64),
                # A profile must be allowed at least one identifier of each kind.
                "limit": read.integer("limit", default=5, minimum=1, maximum=10_000),
                "priority": read.integer("priority", default=100, minimum=0, maximum=2**31 - 1),
                "blocked_values": blocked,
            }
        )
    return Checked(items=clean, problems=problems)


def identity_rules_apply(creates: list[dict], updates: list[dict], deletes: list[str]) -> None:
    now = timezone.now()
    IdentityRule.objects.bulk_create([IdentityRule(**item, changed_at=now) for item in creates])
    for item in updates:
        IdentityRule.objects.filter(kind=item["kind"]).update(
            limit=item["limit"],
            priority=item["priority"],
            blocked_values=item["blocked_values"],
            changed_at=now,
        )
    if deletes:
        IdentityRule.objects.filter(kind__in=deletes).delete()
    changed = [item["kind"] for item in [*creates, *updates]] + list(deletes)
    if changed:
        identity_rules_changed(kinds=changed, at=now)
        audit_record(
            user=None,
            action=AuditAction.IDENTITY_RULE_CHANGE,
            detail={
                "created": [item["kind"] for item in creates],
                "changed": [item["kind"] for item in updates],
                "removed": list(deletes),
                "by": "configuration file",
            },
            sender=IdentityRule,
        )


config_section_register(
    ConfigSection(
        name="identity_rules",
        order=20,
        key=_key,
        export=identity_rules_export,
        check=identity_rules_check,
        apply=identity_rules_apply,
    )
)
