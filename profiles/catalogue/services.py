"""Writes of the data catalogue by people: confirming or changing a field's class, audited."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cdp_site.audit import AuditAction, audit_record
from cdp_site.errors import InvalidInputError

from ..models import DataField
from .selectors import field_classes_forget


def data_field_classify(*, user, field: DataField, classification: str) -> DataField:
    """Set (or confirm) `field`'s class as a person: the automatic classification leaves it
    alone from now on. The change is audited in the same transaction."""
    if classification not in DataField.Classification.values or (
        classification == DataField.Classification.UNKNOWN
    ):
        raise InvalidInputError("Choose sensitive, personal or not personal.")
    with transaction.atomic():
        row = DataField.objects.select_for_update().get(pk=field.pk)
        before = row.classification
        row.classification = classification
        row.classified_by = DataField.ClassifiedBy.PERSON
        row.confirmed_by = user
        row.confirmed_by_name = user.get_username()
        row.confirmed_at = timezone.now()
        if classification != DataField.Classification.NOT_PERSONAL:
            # The catalogue keeps values only of fields that are not personal.
            row.common_values = []
        row.save(
            update_fields=[
                "classification",
                "classified_by",
                "confirmed_by",
                "confirmed_by_name",
                "confirmed_at",
                "common_values",
            ]
        )
        audit_record(
            user=user,
            action=AuditAction.DATA_FIELD_CLASSIFY,
            detail={
                "field": f"{row.get_kind_display()} {row.event + ' · ' if row.event else ''}"
                f"{row.path}".strip(),
                "field_id": row.pk,
                "from": before,
                "to": classification,
            },
            sender=DataField,
        )
    field_classes_forget()
    return row
