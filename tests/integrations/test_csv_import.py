"""Importing CSV files: good rows stored, bad rows reported by line, the same file stored once,
and a killed import resumed to the same events as a clean run."""

import csv
import io
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from cdp_site.celery import broker_health
from cdp_site.errors import ConflictError, InvalidInputError
from integrations.csv_import.files import file_path
from integrations.csv_import.selectors import csv_run_report
from integrations.csv_import.services import csv_import_start, csv_mapping_save
from integrations.models import Source, SyncRun, SyncRunError
from integrations.sync.runner import sync_run_execute, sync_run_start
from profiles.models import Event

from .csv_helpers import csv_source, import_to_end, upload

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

GOOD_AND_BAD = (
    "Customer ID;E-mail;First name;Note\n"  # semicolons, sniffed
    "c-1;ann@example.com;Ann;\n"
    'c-2;bob@example.com;Bob;"two\nlines"\n'  # a quoted newline: lines 3-4
    "c-3;cy@example.com\n"  # line 5: ragged
    ";;Nobody;no id\n"  # line 6: no identifier
    "c-4;not-an-email;Dee;\n"  # line 7: bad e-mail
    'c-5;"eve@example.com"x;Eve;\n'  # line 8: broken quoting
    "\n"  # line 9: blank, skipped
    ";fay@example.com;Fay;\n"  # line 10: known by e-mail only
)


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def _events(source) -> list[tuple]:
    return sorted(
        Event.objects.filter(source_id=source.pk).values_list(
            "message_id", "type", "user_id", "anonymous_id", "traits", "event", "properties"
        )
    )


def test_a_file_with_bad_rows_imports_the_good_ones_and_reports_the_bad_by_line():
    source = csv_source()
    file = upload(source, GOOD_AND_BAD)
    assert file["lines"] == 9
    run = import_to_end(source)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.records_read, run.records_stored, run.records_failed) == (7, 3, 4)
    assert run.progress_done == run.progress_total == 9
    stored = {e.user_id or e.traits["email"]: e for e in Event.objects.filter(source_id=source.pk)}
    assert set(stored) == {"c-1", "c-2", "fay@example.com"}
    assert stored["c-2"].traits == {
        "email": "bob@example.com",
        "first_name": "Bob",
        "note": "two\nlines",
    }
    assert stored["fay@example.com"].anonymous_id.startswith("email-")
    errors = list(SyncRunError.objects.filter(run=run).values_list("position", "reason"))
    assert [position for position, _ in errors] == ["line 5", "line 6", "line 7", "line 8"]
    assert errors[0][1] == "The row has 2 fields; the header has 4."
    assert errors[1][1] == "No identifier: “Customer ID”, “E-mail” are all empty."

    report = list(csv.reader(io.StringIO(csv_run_report(run).read_text(encoding="utf-8"))))
    assert report[0] == ["line", "reason", "Customer ID", "E-mail", "First name", "Note"]
    assert [row[0] for row in report[1:]] == ["5", "6", "7", "8"]
    assert report[3] == [
        "7",
        "Column “E-mail”: “not-an-email” is not an e-mail address.",
        "c-4",
        "not-an-email",
        "Dee",
        "",
    ]


def test_the_same_file_twice_stores_it_once():
    source = csv_source()
    upload(source, GOOD_AND_BAD)
    first = import_to_end(source)
    before = _events(source)
    upload(source, GOOD_AND_BAD, name="the same file again.csv")
    second = import_to_end(source)
    assert (first.records_stored, second.records_stored, second.records_unchanged) == (3, 0, 3)
    assert _events(source) == before


def test_a_corrected_mapping_stores_the_corrected_events():
    source = csv_source()
    upload(source, "id,email,plan\n1,a@example.com,pro\n")
    import_to_end(source)
    csv_mapping_save(
        source=source,
        mapping={
            "type": "identify",
            "columns": {"id": "userId", "email": "email", "plan": "trait:tier"},
        },
    )
    run = import_to_end(source)
    assert run.records_stored == 1
    assert Event.objects.filter(source_id=source.pk).latest("id").traits == {
        "email": "a@example.com",
        "tier": "pro",
    }


def test_a_track_import_with_timestamps():
    source = csv_source()
    upload(
        source,
        "email\tevent\tamount\twhen\na@example.com\tOrder Completed\t12.5\t2024-05-01T10:00:00Z\n",
    )
    run = import_to_end(source)
    assert run.records_stored == 1
    event = Event.objects.get(source_id=source.pk)
    assert (event.type, event.event, event.properties) == (
        "track",
        "Order Completed",
        {"amount": "12.5"},
    )
    assert event.timestamp.isoformat() == "2024-05-01T10:00:00+00:00"
    assert event.context == {"traits": {"email": "a@example.com"}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\xef\xbb\xbf", "The file is empty"),
        (b"email\na@example.com\nb\xe9@example.com\n", "Line 3 is not UTF-8 text"),
    ],
)
def test_an_unreadable_file_is_refused_and_not_kept(content, message):
    source = csv_source()
    with pytest.raises(InvalidInputError, match=message):
        upload(source, content)
    source.refresh_from_db()
    assert "file" not in source.config
    assert not any(Path(file_path("0" * 64)).parent.glob("*.csv"))


def test_a_chosen_encoding_reads_a_windows_file():
    source = csv_source(encoding="cp1252")
    upload(source, "email,name\nzoe@example.com,Zoë\n".encode("cp1252"))
    run = import_to_end(source)
    assert run.records_stored == 1
    assert Event.objects.get(source_id=source.pk).traits["name"] == "Zoë"


def test_a_header_only_file_imports_nothing_and_succeeds():
    source = csv_source()
    assert upload(source, "email,name\n")["lines"] == 0
    run = import_to_end(source)
    assert (run.status, run.records_read) == (SyncRun.Status.SUCCEEDED, 0)


def test_an_import_needs_a_file_and_a_mapping_with_an_identifier():
    source = csv_source()
    with pytest.raises(InvalidInputError, match="Upload a CSV file first"):
        csv_import_start(source=source)
    upload(source, "name,plan\nAnn,pro\n")
    source.refresh_from_db()
    with pytest.raises(InvalidInputError, match="at least one column to an identifier"):
        csv_import_start(source=source)
    assert not SyncRun.objects.filter(source=source).exists()


def test_an_import_while_another_runs_changes_nothing():
    source = csv_source()
    upload(source, "email\na@example.com\n")
    source.refresh_from_db()
    run = csv_import_start(source=source)
    import_id = Source.objects.get(pk=source.pk).config["import_id"]
    with pytest.raises(ConflictError):
        csv_import_start(source=source)
    assert Source.objects.get(pk=source.pk).config["import_id"] == import_id
    assert SyncRun.objects.filter(source=source).count() == 1
    assert run.status == SyncRun.Status.QUEUED


def test_the_mapping_is_remembered_for_the_next_file():
    source = csv_source()
    upload(source, "Ref,Mail\n1,a@example.com\n")
    csv_mapping_save(
        source=source, mapping={"type": "identify", "columns": {"Ref": "userId", "Mail": "email"}}
    )
    upload(source, "Ref,Mail,City\n2,b@example.com,Oslo\n")
    source.refresh_from_db()
    assert source.config["mapping"]["columns"] == {
        "Ref": "userId",
        "Mail": "email",
        "City": "trait:city",
    }


def _big_file(rows: int) -> str:
    lines = ["Customer ID,E-mail,Plan,Note"]
    for i in range(rows):
        note = f'"multi\nline {i}"' if i % 50 == 0 else f"n{i}"
        email = f"p{i}@example.com" if i % 97 else "broken"
        lines.append(f"k-{i},{email},{'pro' if i % 2 else 'free'},{note}")
    return "\n".join(lines) + "\n"


@pytest.mark.django_db(transaction=True)
def test_a_killed_import_resumes_and_stores_what_a_clean_run_stores(settings, tmp_path):
    """A worker process is killed (SIGKILL) in the middle of an import; the run, found without a
    heartbeat, is resumed from its last committed checkpoint, and in the end the source holds
    exactly the events (and the bad-row report exactly the rows) of an uninterrupted import."""
    content = _big_file(4000)
    clean = csv_source("Clean")
    upload(clean, content)
    clean_run = import_to_end(clean)
    assert clean_run.records_stored == 4000 - 42

    killed = csv_source("Killed")
    upload(killed, content)
    killed.refresh_from_db()
    # The broker is known to be down: the run is queued but runs nowhere inline; the worker
    # process started below takes it, as a worker would once the broker is back.
    settings.CDP_BROKER_RETRY_SECONDS = 600
    broker_health.failed()
    run = csv_import_start(source=killed)
    broker_health.recovered()
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.QUEUED
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cdp_site.test_settings",
        "DATABASE_URL": _database_url(),
        "CDP_VAR_DIR": str(tmp_path),
        "CDP_CSV_BATCH_ROWS": "20",
        "CELERY_BROKER_URL": "memory://",
    }
    script = (
        "import django; django.setup(); "
        "from integrations.sync.runner import sync_run_execute; "
        f"sync_run_execute({run.pk})"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.records_read >= 300:
                break
            assert worker.poll() is None, "the worker ended before it could be killed"
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING
    assert 0 < run.records_read < 4000
    reached = run.checkpoint["offset"]

    # No heartbeat for longer than the limit: "Sync now" resumes the same run where it was.
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=run.heartbeat_at - timedelta(hours=1))
    killed.refresh_from_db()
    again = sync_run_start(source=killed, trigger=SyncRun.Trigger.MANUAL)
    assert again.pk == run.pk
    sync_run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.checkpoint["offset"] > reached

    def content_of(source):
        return sorted(
            Event.objects.filter(source_id=source.pk).values_list(
                "type", "user_id", "anonymous_id", "traits"
            )
        )

    assert Event.objects.filter(source_id=killed.pk).count() == clean_run.records_stored
    assert content_of(killed) == content_of(clean)
    assert csv_run_report(run).read_bytes() == csv_run_report(clean_run).read_bytes()


def _database_url() -> str:
    name = connection.settings_dict["NAME"]
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def test_changing_the_settings_keeps_the_file_and_the_mapping():
    from integrations.sources import source_connector_update

    source = csv_source()
    upload(source, "id,email\n1,a@example.com\n")
    source.refresh_from_db()
    before = dict(source.config)
    source_connector_update(source=source, values={"encoding": "cp1252", "delimiter": ","})
    source.refresh_from_db()
    assert source.config == {**before, "encoding": "cp1252", "delimiter": ","}


def test_the_file_and_mapping_stay_as_they_are_while_an_import_runs():
    source = csv_source()
    upload(source, "email\na@example.com\n")
    source.refresh_from_db()
    csv_import_start(source=source)
    before = Source.objects.get(pk=source.pk).config
    with pytest.raises(ConflictError, match="An import of “Customers file” is under way"):
        upload(source, "email,plan\nb@example.com,pro\n")
    with pytest.raises(ConflictError):
        csv_mapping_save(source=source, mapping={"columns": {"email": "email"}})
    assert Source.objects.get(pk=source.pk).config == before
