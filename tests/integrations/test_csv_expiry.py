"""Uploaded CSV files and their bad-row reports are deleted after `CDP_CSV_KEEP_DAYS`, never
while an import reads them; the source's page then says what was deleted and when."""

import os
import time

import pytest
from django.urls import reverse

from integrations.csv_import.expiry import csv_uploads_expire
from integrations.csv_import.files import uploads_dir
from integrations.models import Source, SyncRun
from profiles.models import Event

from .csv_helpers import csv_source, import_to_end, upload

pytestmark = pytest.mark.django_db

FILE = "Customer ID,E-mail\nc-1,ann@example.com\n,\nc-3,cy@example.com\n"
DAY = 86400


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.CDP_CSV_KEEP_DAYS = 30


def _age(days: float) -> None:
    """Make every upload and report look written `days` ago."""
    then = time.time() - days * DAY
    for path in uploads_dir().iterdir():
        os.utime(path, (then, then))


def test_an_imported_file_and_its_report_go_after_the_keep_days(integration_admin, client_for):
    source = csv_source(user=integration_admin)
    upload(source, FILE, name="march.csv")
    run = import_to_end(source)
    assert run.status == SyncRun.Status.SUCCEEDED
    names = sorted(path.name.split(".", 1)[1] for path in uploads_dir().iterdir())
    assert names == sorted(["csv", f"{run.checkpoint['import_id']}.bad-rows.csv"])

    _age(29)
    assert csv_uploads_expire() == {"files": 0, "reports": 0, "partials": 0}
    _age(31)
    assert csv_uploads_expire() == {"files": 1, "reports": 1, "partials": 0}
    assert list(uploads_dir().iterdir()) == []
    # The rows stay imported; the source forgets the file and says so.
    assert Event.objects.count() == 2
    source.refresh_from_db()
    assert "file" not in source.config
    page = client_for(integration_admin).get(reverse("integrations:csv_source", args=[source.pk]))
    body = page.content.decode()
    assert "“march.csv” was deleted on" in body
    assert "30 days after its upload" in body
    # Uploading again clears the note.
    upload(Source.objects.get(pk=source.pk), FILE, name="march.csv")
    assert not Source.objects.get(pk=source.pk).config.get("file_deleted")


def test_a_file_an_import_reads_is_kept(integration_admin):
    source = csv_source(user=integration_admin)
    upload(source, FILE)
    source.refresh_from_db()
    SyncRun.objects.create(source=source, status=SyncRun.Status.QUEUED)
    _age(40)
    assert csv_uploads_expire()["files"] == 0
    assert Source.objects.get(pk=source.pk).config["file"]


def test_a_partial_upload_goes_after_a_day():
    partial = uploads_dir() / ".upload-abc123"
    partial.write_bytes(b"half a file")
    _age(0.5)
    assert csv_uploads_expire()["partials"] == 0
    _age(1.5)
    assert csv_uploads_expire()["partials"] == 1
    assert not partial.exists()
