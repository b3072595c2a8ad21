"""Erasure in the integrations app's own tables and files: sync-run errors quoting the subject,
the activation records of their profiles (what a destination holds, plan entries, dead letters),
and uploaded CSV files and bad-row reports. The residual scan finds nothing of them afterwards,
and other people's rows stay."""

import os

import pytest
from django.utils import timezone

from compliance.models import DataSubjectRequest
from compliance.requests import request_create, request_run, request_verify
from integrations.csv_import.files import file_path
from integrations.csv_import.selectors import csv_run_report
from integrations.models import (
    AudiencePlanEntry,
    AudienceSyncMember,
    DeadLetter,
    SyncRun,
    SyncRunError,
)
from tests.compliance.scene import JANE_EMAIL, JANE_USER, scene_build
from tests.integrations.activation.conftest import sync_make, webhook_destination
from tests.integrations.csv_helpers import csv_source, import_to_end, upload
from tests.integrations.protocol_servers.webhook import WebhookReceiver

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").split(":", 1)[0] not in ("postgres", "postgresql"),
        reason="needs PostgreSQL (the residual scan reads the catalogue)",
    ),
]

CSV = (
    "Customer ID,E-mail,Note\n"
    "c-1,jane.doe@example.com,first\n"
    'c-2,ann@example.com,"two\nlines"\n'
    "c-3,not-an-email,wrote from Jane.Doe@Example.com\n"  # a bad row, in the report
    "c-4,bob@example.com,\n"
)


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def receiver():
    with WebhookReceiver(secret="whsec-test-secret") as server:
        yield server


def test_erasure_empties_the_integrations_tables_and_files_of_the_subject(
    compliance_officer, receiver, django_capture_on_commit_callbacks
):
    scene = scene_build()
    jane, mary = scene["jane"], scene["mary"]
    # A CSV import with Jane in a good row and in a bad one (so in the bad-row report).
    source = csv_source()
    file = upload(source, CSV)
    csv_run = import_to_end(source)
    report = csv_run_report(csv_run)
    assert report is not None
    assert "Jane.Doe@Example.com" in report.read_text()
    lines_before = file_path(file["id"]).read_bytes().count(b"\n")
    # A source run error quoting her, and her records in an audience sync.
    SyncRunError.objects.create(run=csv_run, position=JANE_USER, reason="Record rejected")
    SyncRunError.objects.create(run=csv_run, position="line 9", reason=f"“{JANE_EMAIL}” twice")
    SyncRunError.objects.create(run=csv_run, position="line 10", reason="Someone else's row")
    sync = sync_make(scene["segment"], webhook_destination(receiver))
    run = SyncRun.objects.create(kind=SyncRun.Kind.AUDIENCE, audience_sync=sync)
    now = timezone.now()
    for profile in (jane, mary):
        AudienceSyncMember.objects.create(sync=sync, profile_id=profile.pk, hash="h", sent_at=now)
        AudiencePlanEntry.objects.create(run=run, batch=0, action="e", profile_id=profile.pk)
    DeadLetter.objects.create(
        destination=sync.destination,
        sync=sync,
        run=run,
        profile_id=jane.pk,
        action="e",
        reason="400 Bad Request",
    )
    DeadLetter.objects.create(
        destination=sync.destination,
        sync=sync,
        run=run,
        profile_id=mary.pk,
        action="e",
        reason=f"400: {JANE_EMAIL.lower()} is not allowed",  # Mary's, but it quotes Jane
    )

    request = request_create(
        user=compliance_officer, type="erasure", identifiers={"email": JANE_EMAIL}
    )
    request_verify(request=request, user=compliance_officer)
    with django_capture_on_commit_callbacks(execute=True):
        request_run(request=request, user=compliance_officer)
    request.refresh_from_db()

    assert request.status == DataSubjectRequest.Status.COMPLETED
    assert request.report["residual"]["clean"], request.report["residual"]
    removed = {row["store"]: row["rows"] for row in request.report["stores"]}
    assert removed["integrations.sync_run_errors"] == 2
    # Her held record, her plan entry, both dead letters.
    assert removed["integrations.activation"] == 4
    # Two rows of the uploaded file and the report.
    assert removed["integrations.csv_files"] == 3
    errors = set(SyncRunError.objects.values_list("position", "reason"))
    assert ("line 10", "Someone else's row") in errors
    assert not [error for error in errors if JANE_USER in error[0] or "jane" in error[1].lower()]
    assert list(AudienceSyncMember.objects.values_list("profile_id", flat=True)) == [mary.pk]
    assert list(AudiencePlanEntry.objects.values_list("profile_id", flat=True)) == [mary.pk]
    assert not DeadLetter.objects.exists()
    # The file keeps everyone else's rows on their lines; the report is gone.
    text = file_path(file["id"]).read_bytes()
    assert b"jane.doe" not in text.lower()
    assert text.count(b"\n") == lines_before
    assert b"ann@example.com" in text
    assert b"bob@example.com" in text
    assert csv_run_report(csv_run) is None

    # The file still imports, with the same record ids for the others; a second erasure finds
    # nothing more.
    again = import_to_end(source)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert again.records_stored == 0
    second = request_create(
        user=compliance_officer, type="erasure", identifiers={"email": JANE_EMAIL}
    )
    request_verify(request=second, user=compliance_officer)
    with django_capture_on_commit_callbacks(execute=True):
        request_run(request=second, user=compliance_officer)
    second.refresh_from_db()
    removed = {row["store"]: row["rows"] for row in second.report["stores"]}
    assert removed["integrations.csv_files"] == 0
    # Only the first request's own rows, which keep whom it was about, hold her values.
    found = {row["table"] for row in second.report["residual"]["found"]}
    assert found <= {"compliance_datasubjectrequest", "compliance_requeststep"}, found


def test_access_exports_the_subjects_integrations_rows(receiver):
    from cdp_site.erasure import Subject
    from compliance.erasure.archive import subject_tables

    scene = scene_build()
    jane = scene["jane"]
    source = csv_source()
    upload(source, CSV)
    csv_run = import_to_end(source)
    SyncRunError.objects.create(run=csv_run, position="line 9", reason=f"“{JANE_EMAIL}” twice")
    sync = sync_make(scene["segment"], webhook_destination(receiver))
    AudienceSyncMember.objects.create(
        sync=sync, profile_id=jane.pk, hash="h", sent_at=timezone.now()
    )
    subject = Subject(
        identifiers={"email": ("jane.doe@example.com",)},
        values=(JANE_EMAIL, "jane.doe@example.com"),
        profile_ids=frozenset({jane.pk}),
    )

    tables = subject_tables(subject)

    assert [row["line"] for row in tables["csv_upload_rows"]] == [2, 5]
    assert tables["csv_upload_rows"][0]["fields"] == ["c-1", "jane.doe@example.com", "first"]
    assert [row["destination"] for row in tables["destinations_holding"]] == ["Hooks"]
    assert [row["position"] for row in tables["sync_run_errors"]] == ["line 9"]


def _export_person(profile_id: int, email: str | None, user_id: str | None, name: str):
    from integrations.connectors.base import AudienceRecord

    identifiers = {"email": [email] if email else [], "user_id": [user_id] if user_id else []}
    return AudienceRecord(profile_id=profile_id, identifiers=identifiers, traits={"name": name})


def _export_files(folder):
    """{data file: (bytes, its manifest entry, the manifest)} of an export folder."""
    import json

    found = {}
    for manifest_path in folder.glob("*.manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["files"]:
            found[entry["name"]] = ((folder / entry["name"]).read_bytes(), entry, manifest)
    return found


def test_erasure_rewrites_file_exports_without_the_subject(
    compliance_officer, settings, tmp_path, django_capture_on_commit_callbacks
):
    import hashlib

    from cdp_site.erasure import Subject
    from compliance.erasure.archive import subject_tables
    from integrations.connectors.base import DeliveryBatch
    from integrations.connectors.file_export import FileExportDestination
    from integrations.models import Destination
    from tests.compliance.scene import MARY_EMAIL, MARY_USER

    settings.CDP_EXPORT_ROOT = tmp_path / "exports"
    for folder in ("crm", "lake"):
        (tmp_path / "exports" / folder).mkdir(parents=True)
    scene = scene_build()
    jane, mary, merge = scene["jane"], scene["mary"], scene["merge"]
    loser = merge.loser_id if merge.winner_id == jane.pk else merge.winner_id
    ann = _export_person(jane.pk, JANE_EMAIL.lower(), JANE_USER, "Jane")
    other = _export_person(mary.pk, MARY_EMAIL, MARY_USER, "Mary")
    # Her merged-away profile, known only by its id.
    old = _export_person(loser, None, None, "")
    for name, config in (("CRM files", {"directory": "crm"}), ("Lake", {"directory": "lake"})):
        config = {**config, "format": "csv" if name == "CRM files" else "jsonl"}
        Destination.objects.create(name=name, kind="file_export", config=config)
        FileExportDestination(config, {}).deliver(
            DeliveryBatch("sync-1/run-1/0", "cdp-sync-1", "VIP", [ann, other], [old])
        )
    # A destination whose folder is outside the root is skipped, not followed.
    Destination.objects.create(name="Away", kind="file_export", config={"directory": "../x"})
    subject = Subject(
        identifiers={"email": ("jane.doe@example.com",)},
        values=(JANE_EMAIL, "jane.doe@example.com", JANE_USER),
        profile_ids=frozenset({jane.pk, loser}),
    )
    exported = subject_tables(subject)["file_export_rows"]
    assert sorted((row["destination"], row["row"]["change"]) for row in exported) == [
        ("CRM files", "entered"),
        ("CRM files", "exited"),
        ("Lake", "entered"),
        ("Lake", "exited"),
    ]

    def erase():
        request = request_create(
            user=compliance_officer, type="erasure", identifiers={"email": JANE_EMAIL}
        )
        request_verify(request=request, user=compliance_officer)
        with django_capture_on_commit_callbacks(execute=True):
            request_run(request=request, user=compliance_officer)
        request.refresh_from_db()
        assert request.status == DataSubjectRequest.Status.COMPLETED
        return {row["store"]: row["rows"] for row in request.report["stores"]}

    assert erase()["integrations.file_exports"] == 4
    for folder in ("crm", "lake"):
        files = _export_files(tmp_path / "exports" / folder)
        assert len(files) == 1
        ((content, entry, manifest),) = files.values()
        assert b"jane.doe@example.com" not in content.lower().replace(b"mary.jane", b"")
        assert JANE_USER.encode() not in content
        assert MARY_EMAIL.encode() in content
        assert entry["rows"] == 1
        assert entry["bytes"] == len(content)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert (manifest["entered"], manifest["exited"]) == (1, 0)
        if folder == "crm":
            assert content.decode().splitlines() == [
                "change,profile_id,email,phone,user_id,anonymous_id,name",
                f"entered,{mary.pk},{MARY_EMAIL},,{MARY_USER},,Mary",
            ]
        else:
            assert content.count(b"\n") == 1
    before = {f: _export_files(tmp_path / "exports" / f) for f in ("crm", "lake")}
    assert not [p for p in (tmp_path / "exports").rglob("*") if p.name.startswith(".tmp-")]

    assert erase()["integrations.file_exports"] == 0
    assert {f: _export_files(tmp_path / "exports" / f) for f in ("crm", "lake")} == before
