"""Pages of connector sources: add (choose, form, test, save), edit keeping secrets, sync now,
schedule, the run page and its polling fragment, cancel and retry."""

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from integrations.models import Source, SyncRun, SyncRunError
from integrations.secrets import secrets_decrypt
from integrations.sources import source_connector_create
from profiles.models import Event
from tests.factories import SourceFactory
from tests.integrations.tables import customer_rows

pytestmark = pytest.mark.django_db

SECRET = "pg-pass-marker-7f3a"


@pytest.fixture
def admin_client(client_for, integration_admin):
    return client_for(integration_admin)


def _form(config: dict, name: str = "Shop DB") -> dict:
    return {"name": name, **{key: "" if value is None else value for key, value in config.items()}}


def test_kind_chooser_lists_tracking_and_every_source_connector(admin_client):
    html = admin_client.get("/sources/add/").content.decode()
    assert 'data-kind="tracking_api"' in html
    assert 'data-kind="postgres_table"' in html
    assert 'data-kind="mysql_table"' in html


def test_add_form_is_built_from_the_connector_fields(admin_client):
    html = admin_client.get("/sources/add/postgres_table/").content.decode()
    assert 'name="updated_at_column"' in html
    assert 'type="password"' in html
    assert "Its name, or schema.name" in html
    assert admin_client.get("/sources/add/nonsense/").status_code == 404
    assert admin_client.get("/sources/add/tracking_api/")["Location"] == "/sources/new/"


def test_test_connection_answers_in_the_page_and_as_a_fragment(admin_client, pg_tables):
    pg_tables.insert_customers(customer_rows(3))
    data = {**_form(pg_tables.config()), "action": "test"}
    fragment = admin_client.post("/sources/add/postgres_table/", data, HTTP_HX_REQUEST="true")
    assert fragment.content.decode().strip().startswith('<p id="connection-check"')
    assert "Connected: 3 rows visible in public.customers." in fragment.content.decode()
    page = admin_client.post("/sources/add/postgres_table/", data).content.decode()
    assert "Connected: 3 rows visible" in page
    bad = {**data, "table": "public.nope"}
    answer = admin_client.post("/sources/add/postgres_table/", bad, HTTP_HX_REQUEST="true")
    assert "There is no table or view “public.nope”" in answer.content.decode()
    assert Source.objects.count() == 0


def test_saving_stores_the_secret_encrypted_and_opens_the_source(admin_client, integration_admin):
    config = {
        "host": "db.example.com",
        "database": "shop",
        "user": "reader",
        "password": SECRET,
        "table": "customers",
    }
    response = admin_client.post("/sources/add/postgres_table/", _form(config))
    source = Source.objects.get()
    assert response["Location"] == f"/sources/{source.pk}/"
    assert SECRET not in source.secrets_encrypted
    assert secrets_decrypt(source.secrets_encrypted) == {"password": SECRET}
    assert "password" not in source.config
    assert integration_admin.has_perm("integrations.change_source", source)
    html = admin_client.get(response["Location"]).content.decode()
    assert "Sync now" in html
    assert "No run yet" in html
    assert "<dt>Password</dt><dd>set (hidden)</dd>" in html


def test_bad_settings_come_back_with_the_error_by_the_field(admin_client):
    config = {"host": "h", "database": "d", "user": "u", "table": "t", "batch_size": "12"}
    html = admin_client.post("/sources/add/postgres_table/", _form(config)).content.decode()
    assert "Rows per batch: 100 to 50,000." in html
    track = {**config, "batch_size": "500", "message_type": "track"}
    html = admin_client.post("/sources/add/postgres_table/", _form(track)).content.decode()
    assert "Track rows need an event name." in html
    assert Source.objects.count() == 0


def test_editing_keeps_the_secret_unless_replaced(admin_client):
    values = {"host": "h", "database": "d", "user": "u", "password": SECRET, "table": "t"}
    source = source_connector_create(name="Shop DB", kind="postgres_table", values=values)
    html = admin_client.get(f"/sources/{source.pk}/edit/").content.decode()
    assert SECRET not in html
    assert 'value="h"' in html
    admin_client.post(
        f"/sources/{source.pk}/edit/", _form({**values, "password": "", "host": "h2"})
    )
    source.refresh_from_db()
    assert source.config["host"] == "h2"
    assert secrets_decrypt(source.secrets_encrypted) == {"password": SECRET}
    admin_client.post(f"/sources/{source.pk}/edit/", _form({**values, "password": "new-one"}))
    source.refresh_from_db()
    assert secrets_decrypt(source.secrets_encrypted) == {"password": "new-one"}


def test_sync_now_runs_and_opens_the_run_page(
    admin_client, pg_tables, django_capture_on_commit_callbacks
):
    pg_tables.insert_customers(customer_rows(30))
    source = source_connector_create(
        name="Customers", kind="postgres_table", values=pg_tables.config()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/sources/{source.pk}/sync/")
    run = SyncRun.objects.get()
    assert response["Location"] == f"/sources/{source.pk}/runs/{run.pk}/"
    assert run.status == SyncRun.Status.SUCCEEDED
    assert Event.objects.filter(source_id=source.pk).count() == 30
    html = admin_client.get(response["Location"]).content.decode()
    assert 'data-status="succeeded"' in html
    assert "hx-trigger" not in html.split('id="run-live"')[1].split(">")[0]
    assert 'data-count="stored">30<' in html
    listing = admin_client.get("/sources/").content.decode()
    assert "Succeeded" in listing


def test_the_run_fragment_polls_while_the_run_is_active(admin_client):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    run = SyncRun.objects.create(
        source=source,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        records_read=400,
        records_stored=400,
        progress_done=400,
        progress_total=1000,
    )
    url = f"/sources/{source.pk}/runs/{run.pk}/"
    fragment = admin_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="run-live"')
    assert 'hx-trigger="every 1s"' in fragment
    assert 'value="40"' in fragment
    assert "400 of 1,000 records (40%)" in fragment
    assert "<html" not in fragment
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED)
    fragment = admin_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment


def test_cancel_and_retry_from_the_run_page(admin_client):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    run = SyncRun.objects.create(source=source)
    admin_client.post(f"/sources/{source.pk}/runs/{run.pk}/cancel/")
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED
    response = admin_client.post(f"/sources/{source.pk}/runs/{run.pk}/retry/")
    retried = SyncRun.objects.exclude(pk=run.pk).get()
    assert retried.status == SyncRun.Status.QUEUED
    assert response["Location"] == f"/sources/{source.pk}/runs/{retried.pk}/"
    # A second run while one is active is refused in the page, and nothing changes.
    response = admin_client.post(f"/sources/{source.pk}/sync/", follow=True)
    assert "wait for it to end or cancel it" in response.content.decode()
    assert SyncRun.objects.count() == 2


def test_the_error_table_lists_failed_records(admin_client):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    run = SyncRun.objects.create(source=source, status=SyncRun.Status.SUCCEEDED, records_failed=1)
    SyncRunError.objects.create(run=run, position="id=17", reason="userId must be a string.")
    html = admin_client.get(f"/sources/{source.pk}/runs/{run.pk}/").content.decode()
    assert "id=17" in html
    assert "userId must be a string." in html


def test_schedule_is_kept_in_a_beat_row_and_shown(admin_client):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    admin_client.post(
        f"/sources/{source.pk}/schedule/", {"schedule": "minutes", "every_minutes": 15}
    )
    source.refresh_from_db()
    task = PeriodicTask.objects.get(pk=source.schedule_task_id)
    assert (task.task, task.args, task.interval.every, task.interval.period) == (
        "integrations.sync_scheduled",
        f"[{source.pk}]",
        15,
        "minutes",
    )
    html = admin_client.get(f"/sources/{source.pk}/").content.decode()
    assert "Next run:" in html
    admin_client.post(f"/sources/{source.pk}/schedule/", {"schedule": "daily", "at": "04:30"})
    task.refresh_from_db()
    assert task.interval is None
    assert (task.crontab.hour, task.crontab.minute) == ("4", "30")
    admin_client.post(f"/sources/{source.pk}/schedule/", {"schedule": "off"})
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_a_bad_schedule_is_refused_in_the_page(admin_client):
    source = SourceFactory(name="Shop DB", kind="postgres_table")
    response = admin_client.post(
        f"/sources/{source.pk}/schedule/", {"schedule": "minutes", "every_minutes": 1}, follow=True
    )
    assert "The schedule was not changed" in response.content.decode()
    source.refresh_from_db()
    assert source.schedule == Source.Schedule.OFF


def test_source_list_shows_health_and_empty_states(admin_client):
    assert "No source yet." in admin_client.get("/sources/").content.decode()
    SourceFactory(name="Web")
    pull = SourceFactory(name="Shop DB", kind="postgres_table")
    html = admin_client.get("/sources/").content.decode()
    assert "Never run: open it and press Sync now" in html
    assert "Receives events" in html
    SyncRun.objects.create(
        source=pull, status=SyncRun.Status.FAILED, message="The table is missing."
    )
    html = admin_client.get("/sources/").content.decode()
    assert "Failed" in html
