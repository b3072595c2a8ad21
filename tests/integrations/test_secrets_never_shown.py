"""A connector's secret never appears in a page, an API answer or a log line: every page and
answer about a source whose password is a marker is read, with its runs, a connection test
that fails, and the logs of all of it."""

import logging

import pytest

from integrations.models import SyncRun, SyncRunError
from integrations.sources import source_connector_create
from integrations.sync.runner import sync_run_execute, sync_run_start
from tests.integrations.tables import customer_rows

pytestmark = pytest.mark.django_db

MARKER = "zz-secret-marker-5d1e9b"


def test_the_secret_is_in_no_page_no_answer_and_no_log(
    client_for, superuser, pg_tables, caplog, capfd, django_capture_on_commit_callbacks, settings
):
    settings.CDP_SYNC_RETRY_BASE_SECONDS = 0.01
    settings.CDP_SYNC_RETRY_MAX_SECONDS = 0.05
    caplog.set_level(logging.DEBUG)
    pg_tables.insert_customers(customer_rows(5))
    # The right password for the server is none (trust); the marker is what is stored. The
    # connection succeeds, so pages show real runs; a second source gets a refusal.
    source = source_connector_create(
        name="Customers", kind="postgres_table", values=pg_tables.config(password=MARKER)
    )
    run = sync_run_execute(sync_run_start(source=source, trigger="manual").pk)
    SyncRunError.objects.create(run=run, position="id=1", reason="An example failure.")
    refused = source_connector_create(
        name="Refused",
        kind="postgres_table",
        values=pg_tables.config(password=MARKER, user="no_such_role_here", port=1),
    )
    failed = sync_run_execute(sync_run_start(source=refused, trigger="manual").pk)
    assert failed.status == SyncRun.Status.FAILED

    client = client_for(superuser)
    answers = []
    for target in (source, refused):
        pk = target.pk
        run_id = target.sync_runs.first().pk
        for url in (
            "/sources/",
            f"/sources/{pk}/",
            f"/sources/{pk}/edit/",
            f"/sources/{pk}/runs/{run_id}/",
            "/api/sources/",
            f"/api/sources/{pk}/",
            "/api/sync-runs/",
            f"/api/sync-runs/{run_id}/",
            f"/admin/integrations/source/{pk}/change/",
            "/admin/integrations/syncrun/",
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            answers.append((url, response.content.decode()))
        answers.append(
            ("htmx run", client.get(f"/sources/{pk}/runs/{run_id}/", HTTP_HX_REQUEST="true"))
        )
        for url in (f"/sources/{pk}/test/", f"/api/sources/{pk}/test/"):
            answers.append((url, client.post(url, HTTP_HX_REQUEST="true").content.decode()))
        # An edit with an error re-renders the form: the secret typed is not echoed.
        form = {"name": "", **target.config, "password": MARKER}
        answers.append(("edit error", client.post(f"/sources/{pk}/edit/", form)))
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(("api sync", client.post(f"/api/sources/{pk}/sync/")))
    form = {**pg_tables.config(password=MARKER), "name": "", "action": "save"}
    answers.append(("add error", client.post("/sources/add/postgres_table/", form)))
    answers.append(
        ("add test", client.post("/sources/add/postgres_table/", {**form, "action": "test"}))
    )

    for url, answer in answers:
        text = answer if isinstance(answer, str) else answer.content.decode()
        assert MARKER not in text, url
    out, err = capfd.readouterr()
    assert caplog.records, "the runs and requests logged nothing: the check would be empty"
    assert MARKER not in caplog.text
    assert MARKER not in out + err
