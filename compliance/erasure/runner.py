"""Carrying out a data subject request once it is running (the compliance queue's task).

Erasure: the subject goes on the suppression list first (data arriving meanwhile is dropped),
then every registered store erases its rows in the registry's order, every destination that can
delete is asked, and the residual scan searches the whole database for what is left. The report
names each store with the rows it removed. Running it again finds the same person (the request
keeps the identifiers and profiles it found) and removes nothing more.
"""

import logging

from django.db import transaction
from django.utils import timezone

from cdp_site.audit import AuditAction
from cdp_site.erasure import Subject, processors, stores
from profiles.erasure import profile_trait_rectify

from ..models import DataSubjectRequest, Restriction
from ..suppression import suppression_add
from .scan import Exclusion, residual_scan
from .subject import subject_build, subject_record

logger = logging.getLogger(__name__)
Status = DataSubjectRequest.Status


def _progress(request: DataSubjectRequest, done: int, total: int, stage: str) -> None:
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        progress={"done": done, "total": total, "stage": stage}
    )


def request_exclusions(request_id: int) -> tuple[Exclusion, ...]:
    """The request's own rows, which keep the identifiers: left out of the residual scan."""
    return (
        Exclusion("compliance_datasubjectrequest", "id", request_id),
        Exclusion("compliance_requeststep", "request_id", request_id),
    )


def _erase(request: DataSubjectRequest, subject: Subject) -> dict:
    registered = stores()
    total = len(registered) + 3
    _progress(request, 0, total, "Adding the person to the suppression list")
    suppressed = suppression_add(subject=subject, request=request)
    removed = []
    for done, store in enumerate(registered, start=1):
        _progress(request, done, total, f"Erasing: {store.label}")
        removed.append({"store": store.name, "label": store.label, "rows": store.erase(subject)})
    _progress(request, len(registered) + 1, total, "Asking destinations to delete")
    identifiers = {kind: list(values) for kind, values in subject.identifiers.items()}
    answers = [
        {"name": a.name, "ok": a.ok, "message": a.message, "retryable": a.retryable}
        for processor in processors()
        for a in processor.delete(identifiers)
    ]
    _progress(request, len(registered) + 2, total, "Scanning the database for what is left")
    residual = residual_scan(subject, request_exclusions(request.pk))
    return {
        "stores": removed,
        "rows_removed": sum(row["rows"] for row in removed),
        "suppressed_identifiers": suppressed,
        "destinations": answers,
        "residual": residual,
    }


def _access(request: DataSubjectRequest, subject: Subject) -> dict:
    from ..requests import archive_token_new

    counts = [
        {"store": store.name, "label": store.label, "rows": store.count(subject)}
        for store in stores()
    ]
    token, expires = archive_token_new()
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        archive_token=token, archive_expires_at=expires
    )
    return {"stores": counts, "archive_expires_at": expires.isoformat()}


def _live_profiles(subject: Subject) -> list[int]:
    from profiles.models import Profile

    return list(
        Profile.objects.filter(pk__in=list(subject.profile_ids), merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _rectify(request: DataSubjectRequest, subject: Subject) -> dict:
    details = request.details
    corrected = []
    for profile_id in _live_profiles(subject):
        profile_trait_rectify(
            profile_id=profile_id,
            key=details["trait"],
            value=details.get("value"),
            reason=details.get("reason", ""),
            reference=f"{request.pk}-{profile_id}",
            at=timezone.now(),
        )
        corrected.append(profile_id)
    return {"trait": details["trait"], "profiles_corrected": corrected}


def _restrict(request: DataSubjectRequest, subject: Subject) -> dict:
    ids = sorted(subject.profile_ids)
    Restriction.objects.bulk_create(
        [Restriction(profile_id=pk, request=request) for pk in ids], ignore_conflicts=True
    )
    return {"profiles_restricted": ids}


HANDLERS = {
    DataSubjectRequest.Type.ERASURE: _erase,
    DataSubjectRequest.Type.ACCESS: _access,
    DataSubjectRequest.Type.RECTIFICATION: _rectify,
    DataSubjectRequest.Type.RESTRICTION: _restrict,
}


def request_execute(*, request_id: int) -> DataSubjectRequest | None:
    """Do the running request's work and complete it; a request not running is left alone."""
    from ..requests import step_record

    request = DataSubjectRequest.objects.filter(pk=request_id, status=Status.IN_PROGRESS).first()
    if request is None:
        return None
    try:
        subject = subject_build(request.identifiers, request.subject)
        DataSubjectRequest.objects.filter(pk=request.pk).update(subject=subject_record(subject))
        outcome = HANDLERS[request.type](request, subject)
    except Exception as error:
        logger.exception("data subject request failed", extra={"request_id": request_id})
        with transaction.atomic():
            DataSubjectRequest.objects.filter(pk=request.pk).update(
                status=Status.VERIFIED,
                progress={"done": 0, "total": 0, "stage": f"Failed: {error.__class__.__name__}"},
            )
            request.refresh_from_db()
            step_record(
                request=request,
                user=None,
                action=AuditAction.REQUEST_COMPLETE,
                note=f"failed ({error.__class__.__name__}); it can be run again",
            )
        return request
    finished = timezone.now()
    report = {
        "type": request.type,
        "run": request.runs + 1,
        "started_at": request.started_at.isoformat() if request.started_at else None,
        "finished_at": finished.isoformat(),
        "profiles": sorted(subject.profile_ids),
        **outcome,
    }
    with transaction.atomic():
        DataSubjectRequest.objects.filter(pk=request.pk).update(
            status=Status.COMPLETED,
            completed_at=finished,
            report=report,
            runs=request.runs + 1,
            progress={"done": 1, "total": 1, "stage": "Done"},
        )
        request.refresh_from_db()
        step_record(request=request, user=None, action=AuditAction.REQUEST_COMPLETE)
    return request
