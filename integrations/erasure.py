"""What data subject requests do to the integrations app's own tables, and to destinations.

Quarantined messages that name the subject are deleted (their payload is the message as sent).
Destinations whose connector can delete a person are asked to, through the erasure registry's
processors (`cdp_site.erasure`); where the destination connectors are not installed, there is
nobody to ask.
"""

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

from .models import QuarantinedMessage

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
    processor_register(Processor("integrations.destinations", _destinations_delete))
