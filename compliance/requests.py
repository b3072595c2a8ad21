"""Writes of data subject requests: log, assign, verify, extend, reject, run.

Each step is a `RequestStep` and an audit row, written in the step's own transaction. Steps
never record the subject's values (the request row keeps them, once). Running is a conditional
status update, so two clicks start one run; the work itself is a task on the compliance queue.
"""

import datetime as dt
import secrets
from collections.abc import Mapping

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cdp_site.audit import AuditAction, audit_record
from cdp_site.celery import task_publish
from cdp_site.errors import ConflictError, InvalidInputError

from .deadlines import months_after
from .erasure.subject import identifiers_clean
from .models import DataSubjectRequest, RequestStep

Status = DataSubjectRequest.Status
MAX_EXTENSION_MONTHS = 2
MAX_TEXT = 2000
ARCHIVE_LIFETIME = dt.timedelta(days=7)


def step_record(*, request: DataSubjectRequest, user, action: AuditAction, note: str = "") -> None:
    """The step on the request and its audit row (which names the request, never the values)."""
    RequestStep.objects.create(
        request=request,
        action=AuditAction(action).value.split(".", 1)[1],
        user=user if getattr(user, "pk", None) else None,
        username=user.get_username() if getattr(user, "pk", None) else "",
        note=note,
        at=timezone.now(),
    )
    audit_record(
        user=user,
        action=action,
        detail={"request": request.pk, "type": request.type, "status": request.status},
    )


def _text(value: object, name: str, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidInputError(f"Give the {name}.", field=name)
    if len(text) > MAX_TEXT or "\x00" in text:
        raise InvalidInputError(f"The {name} is too long or holds invalid characters.", field=name)
    return text


def _details(kind: str, details: Mapping | None) -> dict:
    if kind != DataSubjectRequest.Type.RECTIFICATION:
        return {}
    details = details or {}
    trait = _text(details.get("trait"), "trait", required=True)[:200]
    return {
        "trait": trait,
        "value": details.get("value"),
        "reason": _text(details.get("reason"), "reason", required=True),
    }


def request_create(
    *,
    user,
    type: str,
    identifiers: object,
    channel: str = DataSubjectRequest.Channel.EMAIL,
    received_on: dt.date | None = None,
    assignee=None,
    details: Mapping | None = None,
    note: str = "",
) -> DataSubjectRequest:
    if type not in DataSubjectRequest.Type.values:
        raise InvalidInputError(
            f"type must be one of {', '.join(DataSubjectRequest.Type.values)}.", field="type"
        )
    if channel not in DataSubjectRequest.Channel.values:
        raise InvalidInputError("Unknown channel.", field="channel")
    today = timezone.localdate()
    received_on = received_on or today
    if received_on > today:
        raise InvalidInputError("A request cannot be received in the future.", field="received_on")
    cleaned = identifiers_clean(identifiers)
    with transaction.atomic():
        request = DataSubjectRequest.objects.create(
            type=type,
            identifiers=cleaned,
            channel=channel,
            received_on=received_on,
            due_on=months_after(received_on, 1),
            assignee=assignee,
            created_by=user if getattr(user, "pk", None) else None,
            details=_details(type, details),
        )
        step_record(
            request=request, user=user, action=AuditAction.REQUEST_LOG, note=_text(note, "note")
        )
    return request


def _transition(request: DataSubjectRequest, allowed: tuple[str, ...], new: str, **fields) -> None:
    """Move to `new` only from `allowed`, in one conditional update (a second click is refused)."""
    updated = DataSubjectRequest.objects.filter(pk=request.pk, status__in=allowed).update(
        status=new, **fields
    )
    if not updated:
        request.refresh_from_db()
        raise ConflictError(
            f"The request is {request.get_status_display().lower()}: that cannot be done now."
        )
    request.refresh_from_db()


def request_assign(*, request: DataSubjectRequest, user, assignee) -> DataSubjectRequest:
    with transaction.atomic():
        if not request.is_open:
            raise ConflictError("A closed request cannot be reassigned.")
        request.assignee = assignee
        request.save(update_fields=["assignee"])
        step_record(
            request=request,
            user=user,
            action=AuditAction.REQUEST_ASSIGN,
            note=f"to {assignee.get_username()}" if assignee else "unassigned",
        )
    return request


def request_verify(*, request: DataSubjectRequest, user, note: str = "") -> DataSubjectRequest:
    with transaction.atomic():
        _transition(request, (Status.RECEIVED,), Status.VERIFIED)
        step_record(
            request=request, user=user, action=AuditAction.REQUEST_VERIFY, note=_text(note, "note")
        )
    return request


def request_extend(
    *, request: DataSubjectRequest, user, months: int, reason: str, told_on: dt.date
) -> DataSubjectRequest:
    """Art. 12(3): up to two more months in all, the person told why within the first month."""
    reason = _text(reason, "reason", required=True)
    if not isinstance(months, int) or not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise InvalidInputError("An extension is 1 or 2 months.", field="months")
    if told_on is None:
        raise InvalidInputError("Give the date the person was told.", field="told_on")
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
        if not request.is_open:
            raise ConflictError("A closed request cannot be extended.")
        if request.extension_months + months > MAX_EXTENSION_MONTHS:
            raise ConflictError("A deadline can be extended by two months at most, in all.")
        if told_on < request.received_on or told_on > request.first_due_on:
            raise InvalidInputError(
                "The person must be told within the first month after the request.",
                field="told_on",
            )
        request.extension_months += months
        request.extension_reason = reason
        request.extension_told_on = told_on
        request.due_on = months_after(request.received_on, 1 + request.extension_months)
        request.save(
            update_fields=["extension_months", "extension_reason", "extension_told_on", "due_on"]
        )
        step_record(
            request=request,
            user=user,
            action=AuditAction.REQUEST_EXTEND,
            note=f"+{months} month(s), due {request.due_on:%Y-%m-%d}: {reason}",
        )
    return request


def request_reject(*, request: DataSubjectRequest, user, reason: str) -> DataSubjectRequest:
    reason = _text(reason, "reason", required=True)
    with transaction.atomic():
        _transition(
            request,
            (Status.RECEIVED, Status.VERIFIED),
            Status.REJECTED,
            rejection_reason=reason,
            completed_at=timezone.now(),
        )
        step_record(request=request, user=user, action=AuditAction.REQUEST_REJECT, note=reason)
    return request


def _queue_run(request_id: int) -> None:
    from .tasks import request_execute_task

    task_publish(request_execute_task, request_id)


# A run this long in progress has lost its worker: it may be started again.
STALLED_AFTER = dt.timedelta(minutes=30)
RERUNNABLE = (DataSubjectRequest.Type.ERASURE, DataSubjectRequest.Type.ACCESS)


def request_run(*, request: DataSubjectRequest, user) -> DataSubjectRequest:
    """Start the request's work. A completed erasure may be run again (it then finds nothing,
    and its report shows so), a completed access request too (a fresh archive link), and a run
    whose worker died (in progress for too long) is started afresh; every step is idempotent.
    The work runs after commit on the compliance queue."""
    now = timezone.now()
    runnable = DataSubjectRequest.objects.filter(pk=request.pk).filter(
        Q(status=Status.VERIFIED)
        | Q(status=Status.COMPLETED, type__in=RERUNNABLE)
        | Q(status=Status.IN_PROGRESS, started_at__lt=now - STALLED_AFTER)
    )
    with transaction.atomic():
        updated = runnable.update(
            status=Status.IN_PROGRESS,
            progress={"done": 0, "total": 0, "stage": "Waiting for a worker"},
            started_at=now,
        )
        request.refresh_from_db()
        if not updated:
            raise ConflictError(
                f"The request is {request.get_status_display().lower()}: it cannot run now."
            )
        step_record(request=request, user=user, action=AuditAction.REQUEST_RUN)
        transaction.on_commit(lambda: _queue_run(request.pk))
    return request


def archive_token_new() -> tuple[str, dt.datetime]:
    return secrets.token_urlsafe(32), timezone.now() + ARCHIVE_LIFETIME
