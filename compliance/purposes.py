"""Consent purposes managed by compliance officers: create and change, each change audited.

A purpose's key is how events, the API and segment conditions name it, so it is fixed once a
consent record uses it; before that a mistyped key can still be corrected.
"""

import re

from django.db import IntegrityError, transaction

from cdp_site.audit import AuditAction, audit_record
from cdp_site.errors import ConflictError, InvalidInputError

from .models import ConsentPurpose, ConsentRecord

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_KEY = ConsentPurpose._meta.get_field("key").max_length
MAX_NAME = ConsentPurpose._meta.get_field("name").max_length
MAX_DESCRIPTION = 5000


def _clean(*, key: str, name: str, description: str, legal_basis: str) -> dict:
    """The values stripped and checked; InvalidInputError naming the field otherwise."""
    key = (key or "").strip()
    name = (name or "").strip()
    description = (description or "").strip()
    if not key:
        raise InvalidInputError("Give the purpose a key, e.g. email_marketing.", field="key")
    if len(key) > MAX_KEY:
        raise InvalidInputError(f"A key has at most {MAX_KEY} characters.", field="key")
    if not KEY_PATTERN.match(key):
        raise InvalidInputError(
            "A key is lower-case letters, digits, _ and -, starting with a letter or digit.",
            field="key",
        )
    if not name:
        raise InvalidInputError("Give the purpose a name.", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInputError(f"A name has at most {MAX_NAME} characters.", field="name")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInputError(
            f"A description has at most {MAX_DESCRIPTION} characters.", field="description"
        )
    if "\x00" in key + name + description:
        raise InvalidInputError("The text holds a character that cannot be stored.")
    if legal_basis not in ConsentPurpose.LegalBasis.values:
        raise InvalidInputError("Choose one of the six legal bases.", field="legal_basis")
    return {"key": key, "name": name, "description": description, "legal_basis": legal_basis}


def _key_taken(key: str, exclude_pk: int | None = None) -> bool:
    rows = ConsentPurpose.objects.filter(key__iexact=key)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.exists()


def _taken_error(key: str) -> ConflictError:
    return ConflictError(f"A purpose with the key “{key}” already exists.", field="key")


def purpose_in_use(purpose: ConsentPurpose) -> bool:
    """Whether any consent record names the purpose (its key is then fixed)."""
    return ConsentRecord.objects.filter(purpose=purpose).exists()


def purpose_create(
    *, user, key: str, name: str, description: str = "", legal_basis: str = "consent"
) -> ConsentPurpose:
    """A new purpose; audited in the same transaction."""
    values = _clean(key=key, name=name, description=description, legal_basis=legal_basis)
    if _key_taken(values["key"]):
        raise _taken_error(values["key"])
    try:
        with transaction.atomic():
            purpose = ConsentPurpose.objects.create(**values)
            audit_record(
                user=user,
                action=AuditAction.CONSENT_PURPOSE_CREATE,
                detail={"purpose": purpose.pk, **values},
                sender=ConsentPurpose,
            )
    except IntegrityError:
        # Created by someone else between the check and the insert.
        raise _taken_error(values["key"]) from None
    return purpose


def purpose_update(
    *, user, purpose: ConsentPurpose, key: str, name: str, description: str, legal_basis: str
) -> ConsentPurpose:
    """Change a purpose; the audit row holds each changed field's old and new value."""
    values = _clean(key=key, name=name, description=description, legal_basis=legal_basis)
    try:
        with transaction.atomic():
            # Locked, so a record arriving meanwhile cannot slip in under a key about to change.
            current = ConsentPurpose.objects.select_for_update().get(pk=purpose.pk)
            if values["key"] != current.key:
                if purpose_in_use(current):
                    raise InvalidInputError(
                        "The key cannot change: consent records already use it.", field="key"
                    )
                if _key_taken(values["key"], exclude_pk=current.pk):
                    raise _taken_error(values["key"])
            changes = {
                field: [getattr(current, field), value]
                for field, value in values.items()
                if getattr(current, field) != value
            }
            if not changes:
                return current
            for field, value in values.items():
                setattr(current, field, value)
            current.save(update_fields=list(changes))
            audit_record(
                user=user,
                action=AuditAction.CONSENT_PURPOSE_CHANGE,
                detail={"purpose": current.pk, "key": current.key, "changes": changes},
                sender=ConsentPurpose,
            )
    except IntegrityError:
        raise _taken_error(values["key"]) from None
    return current
