"""What data subject requests do to the integrations app's own tables, and to destinations.

Quarantined messages that name the subject are deleted (their payload is the message as sent),
and so are sync-run errors whose position or reason quotes one of the subject's values (a record
id, a bad value). The activation tables name profiles by id: the record of what each destination
holds, the plan entries of runs and the dead letters of the subject's profiles are deleted (a
dead letter also when its reason quotes a value). Uploaded CSV files and bad-row reports are
cleaned by `csv_import.erasure`, and the files the file export destination wrote by
`connectors.file_export_erasure`. Event forwarding keeps only a position in the event table, no
one's data, so it has nothing to erase.
Destinations whose connector can delete a person are asked to, through the erasure registry's
processors (`cdp_site.erasure`); where the destination connectors are not installed, there is
nobody to ask.
"""

from django.db import transaction
from django.db.models import Q

from cdp_site.erasure import (
    Processor,
    ProcessorAnswer,
    Store,
    Subject,
    processor_register,
    store_register,
    text_matching,
)
from cdp_site.errors import InvalidInputError

from .csv_import.erasure import csv_subject_count, csv_subject_erase, csv_subject_rows
from .models import (
    AudiencePlanEntry,
    AudienceSyncMember,
    DeadLetter,
    QuarantinedMessage,
    SyncRunError,
)

QUARANTINE_TEXT = ("payload", "batch_context", "batch_integrations")


def _quarantine(subject: Subject):
    return text_matching(QuarantinedMessage.objects.all(), subject, QUARANTINE_TEXT)


def _quarantine_export(subject: Subject) -> dict[str, list[dict]]:
    rows = [
        {
            "source_id": row.source_id,
            "code": row.code,
            "reason": row.reason,
            "payload": row.payload,
            "received_at": row.received_at.isoformat(),
        }
        for row in _quarantine(subject).order_by("received_at")
    ]
    return {"quarantined_messages": rows}


def _run_errors(subject: Subject):
    return text_matching(SyncRunError.objects.all(), subject, ("position", "reason"))


def _run_errors_export(subject: Subject) -> dict[str, list[dict]]:
    rows = [
        {"run_id": row.run_id, "position": row.position, "reason": row.reason}
        for row in _run_errors(subject).order_by("pk")
    ]
    return {"sync_run_errors": rows}


def _profile_ids(subject: Subject) -> list[int]:
    return sorted(subject.profile_ids)


def _dead_letters(subject: Subject):
    by_text = text_matching(DeadLetter.objects.all(), subject, ("reason",)).values("pk")
    return DeadLetter.objects.filter(Q(profile_id__in=_profile_ids(subject)) | Q(pk__in=by_text))


def _held(subject: Subject):
    return AudienceSyncMember.objects.filter(profile_id__in=_profile_ids(subject))


def _planned(subject: Subject):
    return AudiencePlanEntry.objects.filter(profile_id__in=_profile_ids(subject))


def _activation_count(subject: Subject) -> int:
    return _dead_letters(subject).count() + _held(subject).count() + _planned(subject).count()


def _activation_erase(subject: Subject) -> int:
    with transaction.atomic():
        return (
            _dead_letters(subject).delete()[0]
            + _held(subject).delete()[0]
            + _planned(subject).delete()[0]
        )


def _activation_export(subject: Subject) -> dict[str, list[dict]]:
    """Which destinations hold the subject (what their data was sent to), and dead letters."""
    held = [
        {
            "destination": row["sync__destination__name"],
            "segment": row["sync__segment__name"],
            "profile_id": row["profile_id"],
            "sent_at": row["sent_at"].isoformat(),
        }
        for row in _held(subject)
        .order_by("sent_at")
        .values("sync__destination__name", "sync__segment__name", "profile_id", "sent_at")
    ]
    dead = [
        {
            "destination_id": row.destination_id,
            "profile_id": row.profile_id,
            "reason": row.reason,
            "status": row.status,
            "created_at": row.created_at.isoformat(),
        }
        for row in _dead_letters(subject).order_by("pk")
    ]
    return {"destinations_holding": held, "dead_letters": dead}


def _csv_export(subject: Subject) -> dict[str, list[dict]]:
    rows = [
        {"file": row.file, "line": row.line, "fields": row.fields}
        for row in csv_subject_rows(subject)
    ]
    return {"csv_upload_rows": rows}


def _destinations_delete(identifiers: dict[str, list[str]]) -> list[ProcessorAnswer]:
    """Ask every destination whose connector can delete a person; one answer each."""
    try:
        from .connectors.base import TransientError
        from .connectors.registry import connector_class
        from .models import Destination
        from .secrets import secrets_decrypt
    except ImportError:
        return []
    answers = []
    for destination in Destination.objects.order_by("name"):
        try:
            cls = connector_class(destination.kind, "destination")
        except InvalidInputError:
            # A destination of a connector no longer installed cannot be asked.
            answers.append(ProcessorAnswer(destination.name, False, "Its connector is missing."))
            continue
        if not getattr(cls, "can_delete", False):
            continue
        try:
            connector = cls(destination.config, secrets_decrypt(destination.secrets_encrypted))
            check = connector.subject_delete(identifiers)
            answers.append(ProcessorAnswer(destination.name, bool(check.ok), str(check.message)))
        except TransientError as error:
            answers.append(ProcessorAnswer(destination.name, False, str(error), retryable=True))
        except Exception as error:
            answers.append(ProcessorAnswer(destination.name, False, str(error)))
    return answers


def register() -> None:
    store_register(
        Store(
            "integrations.quarantine",
            "Quarantined messages",
            lambda subject: _quarantine(subject).count(),
            lambda subject: _quarantine(subject).delete()[0],
            _quarantine_export,
            order=600,
        )
    )
    store_register(
        Store(
            "integrations.sync_run_errors",
            "Sync run errors",
            lambda subject: _run_errors(subject).count(),
            lambda subject: _run_errors(subject).delete()[0],
            _run_errors_export,
            order=600,
        )
    )
    store_register(
        Store(
            "integrations.activation",
            "Audience sync records and dead letters",
            _activation_count,
            _activation_erase,
            _activation_export,
            order=600,
        )
    )
    store_register(
        Store(
            "integrations.csv_files",
            "Uploaded CSV files and bad-row reports",
            csv_subject_count,
            csv_subject_erase,
            _csv_export,
            order=600,
        )
    )
    _file_export_register()
    processor_register(Processor("integrations.destinations", _destinations_delete))


def _file_export_register() -> None:
    """The export files' store, where the destination connectors are installed."""
    try:
        from .connectors.file_export_erasure import (
            file_export_subject_count,
            file_export_subject_erase,
            file_export_subject_export,
        )
    except ImportError:
        return
    store_register(
        Store(
            "integrations.file_exports",
            "Files written by file export destinations",
            file_export_subject_count,
            file_export_subject_erase,
            file_export_subject_export,
            order=600,
        )
    )
