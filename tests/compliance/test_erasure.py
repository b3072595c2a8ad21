"""Erasure: every store of the subject emptied, the residual scan and a raw dump of the whole
database find none of the subject's values outside the request, others untouched, run twice."""

import os
import re
import subprocess

import pytest
from django.db import connection

from compliance.models import AuditEvent, ConsentRecord, DataSubjectRequest, RequestStep
from compliance.requests import request_create, request_run, request_verify
from integrations.models import QuarantinedMessage
from profiles.models import DataField, Event, Identity, Profile, ProfileMerge
from segments.models import SegmentMembership
from tests.compliance.scene import (
    JANE_ANON,
    JANE_EMAIL,
    JANE_PHONE,
    JANE_USER,
    JANE_VALUES,
    MARY_EMAIL,
    MARY_USER,
    scene_build,
)

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":", 1)[0] not in ("postgres", "postgresql"),
    reason="needs PostgreSQL (the residual scan and pg_dump)",
)

OWN_TABLES = ("compliance_datasubjectrequest", "compliance_requeststep")


def _erasure(officer, identifiers) -> DataSubjectRequest:
    request = request_create(user=officer, type="erasure", identifiers=identifiers)
    request_verify(request=request, user=officer)
    return request


def _run(request, officer, capture) -> DataSubjectRequest:
    with capture(execute=True):
        request_run(request=request, user=officer)
    request.refresh_from_db()
    return request


def _dump_lines_outside_request() -> list[str]:
    """The data of the whole test database, as pg_dump writes it, minus the request's tables."""
    settings = connection.settings_dict
    dump = subprocess.run(  # noqa: S603 - fixed arguments
        [
            "/usr/bin/pg_dump",
            "--data-only",
            "--no-owner",
            "-h",
            settings["HOST"] or "127.0.0.1",
            "-p",
            str(settings["PORT"] or 5432),
            "-U",
            settings["USER"] or "postgres",
            settings["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines, table = [], None
    for line in dump.splitlines():
        if line.startswith("COPY "):
            table = line.split()[1].split(".")[-1].strip('"')
            continue
        if line == "\\.":
            table = None
            continue
        if table is not None and table not in OWN_TABLES:
            lines.append(line)
    return lines


def _found(lines: list[str], values) -> list[str]:
    """Lines holding one of the values as a whole (Mary's address contains Jane's)."""
    pattern = re.compile(
        "|".join(rf"(?<![\w.%+-]){re.escape(value)}(?![\w-]|\.\w)" for value in values),
        re.IGNORECASE,
    )
    return [line for line in lines if pattern.search(line)]


@pytest.mark.django_db(transaction=True)
def test_erasure_leaves_none_of_the_subjects_values_in_the_database(
    compliance_officer, support_agent, django_capture_on_commit_callbacks
):
    scene = scene_build(user=support_agent)
    assert _found(_dump_lines_outside_request(), JANE_VALUES)  # the values are there before
    mary_events = set(
        Event.objects.filter(profile=scene["mary"])
        .exclude(event="Friend Referred")
        .values_list("pk", flat=True)
    )
    request = _erasure(compliance_officer, {"email": JANE_EMAIL, "phone": JANE_PHONE})

    request = _run(request, compliance_officer, django_capture_on_commit_callbacks)

    assert request.status == DataSubjectRequest.Status.COMPLETED
    report = request.report
    assert report["residual"]["clean"], report["residual"]
    assert report["residual"]["tables"] > 20
    removed = {row["store"]: row["rows"] for row in report["stores"]}
    assert removed["profiles.profiles"] == 2
    # Jane's 5 events, the merging one, and Mary's that named Jane in its properties.
    assert removed["profiles.events"] == 6
    assert removed["integrations.quarantine"] == 1
    assert removed["segments.memberships"] >= 1  # her membership
    assert removed["profiles.catalogue"] == 1  # the catalogue's common value
    assert removed["compliance.audit_log"] == 1
    assert removed["compliance.consent"] >= 1
    assert set(report["profiles"]) == {scene["merge"].winner_id, scene["merge"].loser_id}
    # Nothing of Jane's is left anywhere, whatever its spelling.
    assert _found(_dump_lines_outside_request(), (*JANE_VALUES, JANE_EMAIL)) == []
    assert not Profile.objects.filter(pk__in=report["profiles"]).exists()
    assert not ProfileMerge.objects.exists()
    assert not QuarantinedMessage.objects.exists()
    assert not Identity.objects.filter(value__in=[JANE_USER, JANE_ANON]).exists()
    assert not ConsentRecord.objects.filter(profile_id__in=report["profiles"]).exists()
    # The audit row stays, the search term does not.
    assert AuditEvent.objects.filter(detail__query="[erased]").count() == 1
    # Mary is untouched, but for the event that named Jane.
    assert Profile.objects.filter(pk=scene["mary"].pk).exists()
    assert set(Identity.objects.filter(profile=scene["mary"]).values_list("value", flat=True)) == {
        MARY_USER,
        MARY_EMAIL,
    }
    assert (
        set(Event.objects.filter(profile=scene["mary"]).values_list("pk", flat=True)) == mary_events
    )
    assert SegmentMembership.objects.filter(profile=scene["mary"]).count() == 1
    assert DataField.objects.get(kind="trait", path="email").common_values == [[MARY_EMAIL, 3]]
    assert _found(_dump_lines_outside_request(), (MARY_EMAIL,))
    # The request keeps whom it was about, and every step with who did it.
    assert [step.action for step in RequestStep.objects.filter(request=request)] == [
        "log",
        "verify",
        "run",
        "complete",
    ]


@pytest.mark.django_db(transaction=True)
def test_erasure_run_twice_removes_nothing_more_and_stays_clean(
    compliance_officer, django_capture_on_commit_callbacks
):
    scene_build()
    request = _erasure(compliance_officer, {"user_id": JANE_USER})
    first = _run(request, compliance_officer, django_capture_on_commit_callbacks).report
    second = _run(request, compliance_officer, django_capture_on_commit_callbacks).report

    assert first["rows_removed"] > 0
    assert second["rows_removed"] == 0
    assert second["run"] == 2
    assert second["residual"]["clean"]
    # The phone was found through her profiles, not given: it is gone too.
    assert _found(_dump_lines_outside_request(), JANE_VALUES) == []
