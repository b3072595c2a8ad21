"""The identity rules as people read and change them: every kind in force (configured or by
default), saving a rule (audited), and whether the stored history needs a rebuild.

A change applies to events resolved from then on; `manage.py rebuild` applies it to the events
already resolved. Until a rebuild finishes after the last change, the page says one is needed.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone

from cdp_site.audit import AuditAction, audit_record

from .models import IdentityRule, IdentityRuleChange, RebuildRun
from .normalise import DEFAULT_LIMIT, DEFAULT_PRIORITY, DEFAULT_RULES, GLOBAL_BLOCKED

AUDITED_FIELDS = ("limit", "priority", "blocked_values")


@dataclass(frozen=True)
class RuleInForce:
    kind: str
    limit: int
    priority: int
    blocked_values: tuple[str, ...]
    configured: bool
    changed_at: object = None


def identity_rules_in_force() -> list[RuleInForce]:
    """Every configured rule, and the kinds that have a built-in default, by priority."""
    rules = {
        row.kind: RuleInForce(
            row.kind,
            row.limit,
            row.priority,
            tuple(row.blocked_values or ()),
            True,
            row.changed_at,
        )
        for row in IdentityRule.objects.all()
    }
    for kind, (limit, priority) in DEFAULT_RULES.items():
        rules.setdefault(kind, RuleInForce(kind, limit, priority, (), False))
    return sorted(rules.values(), key=lambda rule: (rule.priority, rule.kind))


def identity_rule_for_kind(kind: str) -> IdentityRule:
    """The stored rule of `kind`, or an unsaved one with the default values (404 for a kind
    longer than any stored one)."""
    if len(kind) > IdentityRule._meta.get_field("kind").max_length:
        raise Http404("No such identifier kind.")
    rule = IdentityRule.objects.filter(kind=kind).first()
    if rule is None:
        limit, priority = DEFAULT_RULES.get(kind, (DEFAULT_LIMIT, DEFAULT_PRIORITY))
        rule = IdentityRule(kind=kind, limit=limit, priority=priority, blocked_values=[])
    return rule


def identity_rule_save(*, user, rule: IdentityRule) -> IdentityRule:
    """Save `rule` (new or changed) and record the change, before and after, in the audit log."""
    with transaction.atomic():
        stored = IdentityRule.objects.select_for_update().filter(kind=rule.kind).first()
        if stored is not None and rule.pk is None:
            rule.pk = stored.pk
        # A kind without a stored rule had the default values in force: the change is from them.
        before = stored or identity_rule_for_kind(rule.kind)
        differences = {
            field: {"from": getattr(before, field), "to": getattr(rule, field)}
            for field in AUDITED_FIELDS
            if getattr(before, field) != getattr(rule, field)
        }
        if stored is not None and not differences:
            return stored
        rule.changed_at = timezone.now()
        rule.save()
        identity_rules_changed(kinds=[rule.kind], at=rule.changed_at)
        audit_record(
            user=user,
            action=AuditAction.IDENTITY_RULE_CHANGE,
            detail={"kind": rule.kind, "created": stored is None, "changes": differences},
            sender=IdentityRule,
        )
    return rule


def identity_rules_rebuild_needed() -> dict | None:
    """When the rules last changed, if no rebuild has finished since (else None)."""
    changed = IdentityRuleChange.objects.aggregate(last=Max("changed_at"))["last"]
    if changed is None:
        return None
    rebuilt = RebuildRun.objects.aggregate(last=Max("finished_at"))["last"]
    if rebuilt is not None and rebuilt >= changed:
        return None
    return {"changed_at": changed, "rebuilt_at": rebuilt}


def globally_blocked_values() -> tuple[str, ...]:
    return GLOBAL_BLOCKED


def identity_rules_changed(*, kinds, at) -> None:
    """Note that the rules of `kinds` changed at `at` (for the rebuild notice)."""
    IdentityRuleChange.objects.bulk_create(
        [IdentityRuleChange(kind=kind, changed_at=at) for kind in kinds]
    )
