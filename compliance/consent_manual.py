"""Consent recorded by hand: a compliance officer writes down a choice a person made outside
the tracked channels (a signed form, an e-mail, a call), with the evidence and a note.

The record joins the profile's history like any other and is in force if it is the latest; it
names no event, so it follows its person through merges to the live profile.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from cdp_site.audit import AuditAction, audit_record
from cdp_site.errors import InvalidInputError
from profiles.selectors import profile_get_live

from .models import ConsentPurpose, ConsentRecord

EVIDENCE_KINDS = {
    "signed_form": "Signed form",
    "email": "E-mail",
    "call": "Phone call",
    "other": "Other",
}
MAX_NOTE = 2000


def consent_record_by_hand(
    *,
    user,
    profile_id: int,
    purpose_key: str,
    granted: bool,
    evidence: str,
    note: str = "",
    recorded_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Record `granted` for the purpose on the live profile; audited in the same transaction."""
    profile = profile_get_live(profile_id)
    purpose = ConsentPurpose.objects.filter(key=purpose_key).first()
    if purpose is None:
        raise InvalidInputError("No consent purpose has that key.", field="purpose")
    if evidence not in EVIDENCE_KINDS:
        raise InvalidInputError(
            f"evidence must be one of {', '.join(EVIDENCE_KINDS)}.", field="evidence"
        )
    note = str(note or "").strip()
    if len(note) > MAX_NOTE or "\x00" in note:
        raise InvalidInputError("The note is too long or holds invalid characters.", field="note")
    now = timezone.now()
    recorded_at = recorded_at or now
    if recorded_at > now:
        raise InvalidInputError("A choice cannot be recorded in the future.", field="recorded_at")
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            profile=profile,
            purpose=purpose,
            granted=bool(granted),
            recorded_at=recorded_at,
            evidence={
                "by_hand": True,
                "kind": evidence,
                "note": note,
                "recorded_by": user.get_username(),
            },
        )
        audit_record(
            user=user,
            action=AuditAction.CONSENT_RECORD,
            profile_id=profile.pk,
            detail={"purpose": purpose.key, "granted": bool(granted), "evidence": evidence},
            sender=ConsentRecord,
        )
    return record
