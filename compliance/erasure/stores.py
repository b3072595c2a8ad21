"""Compliance's own rows in the erasure registry: consent records, restrictions, the audit log.

Consent records of the subject's profiles are deleted (the request and its steps are what proves
the request was handled). The audit log is append-only; where a row's detail holds one of the
subject's values (a search term, say), the value is replaced by `[erased]` through the one path
the database lets through: an update of `detail` alone, in a transaction that set
`cdp.audit_redaction` (see migration 0007).
"""

import re

from django.db import connection, transaction

from cdp_site.erasure import Store, Subject, store_register, subject_pattern, text_matching

from ..models import AuditEvent, ConsentRecord, Restriction

REDACTED = "[erased]"


def _consent(subject: Subject):
    return ConsentRecord.objects.filter(profile_id__in=list(subject.profile_ids))


def _consent_export(subject: Subject) -> dict[str, list[dict]]:
    rows = [
        {
            "profile_id": row.profile_id,
            "purpose": row.purpose.key,
            "granted": row.granted,
            "recorded_at": row.recorded_at.isoformat(),
            "source_id": row.source_id,
        }
        for row in _consent(subject).select_related("purpose").order_by("recorded_at")
    ]
    return {"consent_records": rows}


def _restrictions(subject: Subject):
    return Restriction.objects.filter(profile_id__in=list(subject.profile_ids))


def _consent_erase(subject: Subject) -> int:
    with transaction.atomic():
        return _consent(subject).delete()[0] + _restrictions(subject).delete()[0]


def _audit(subject: Subject):
    return text_matching(AuditEvent.objects.all(), subject, ("detail",))


def redacted(value: object, pattern: re.Pattern) -> object:
    """`value` with every match of `pattern` in its texts (keys included) replaced."""
    if isinstance(value, dict):
        return {redacted(key, pattern): redacted(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, pattern) for item in value]
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    return value


def _audit_erase(subject: Subject) -> int:
    text = subject_pattern(subject)
    if text is None:
        return 0
    pattern = re.compile(text, re.IGNORECASE)
    changed = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL cdp.audit_redaction = 'on'")
        for pk, detail in _audit(subject).values_list("pk", "detail"):
            changed += AuditEvent.objects.filter(pk=pk).update(detail=redacted(detail, pattern))
    return changed


def register() -> None:
    store_register(
        Store(
            "compliance.consent",
            "Consent records and restrictions",
            lambda subject: _consent(subject).count() + _restrictions(subject).count(),
            _consent_erase,
            _consent_export,
            order=400,
        )
    )
    store_register(
        Store(
            "compliance.audit_log",
            "Audit log (values redacted)",
            lambda subject: _audit(subject).count(),
            _audit_erase,
            lambda subject: {},
            order=950,
        )
    )
