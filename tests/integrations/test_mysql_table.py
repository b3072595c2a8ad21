"""The MySQL/MariaDB table source against the MariaDB server on the machine: incremental reads
with the key breaking ties, missing columns named, refused users told."""

import pytest

from integrations.models import SyncRun
from integrations.sources import connection_test, source_connector_create
from integrations.sync.runner import sync_run_execute, sync_run_start
from profiles.models import Event
from tests.integrations.tables import customer_rows

pytestmark = pytest.mark.django_db


def _run(source) -> SyncRun:
    return sync_run_execute(sync_run_start(source=source, trigger="manual").pk)


def test_rows_become_identify_events_incrementally(mysql_tables):
    mysql_tables.insert_customers(customer_rows(230))
    source = source_connector_create(
        name="Maria customers", kind="mysql_table", values=mysql_tables.config()
    )
    run = _run(source)
    assert run.status == SyncRun.Status.SUCCEEDED, run.message
    assert (run.records_read, run.records_stored, run.progress_total) == (230, 230, 230)
    event = Event.objects.get(source_id=source.pk, user_id="ext-5")
    assert event.traits["email"] == "person5@example.com"
    assert event.traits["score"] == 5.5
    assert event.timestamp.isoformat() == "2026-01-01T00:01:00+00:00"

    last_time = customer_rows(1, start=230)[0][6]
    mysql_tables.insert_customers([(*row[:6], last_time) for row in customer_rows(2, start=231)])
    mysql_tables.execute("UPDATE customers SET plan = 'gold', updated_at = NOW(6) WHERE id = 9")
    run = _run(source)
    assert (run.records_read, run.records_stored) == (3, 3)
    source.checkpoint = {}
    source.save()
    run = _run(source)
    assert (run.records_read, run.records_stored, run.records_unchanged) == (232, 0, 232)
    assert Event.objects.filter(source_id=source.pk).count() == 233


def test_connection_test_and_missing_column(mysql_tables):
    mysql_tables.insert_customers(customer_rows(4))
    check = connection_test(kind="mysql_table", values=mysql_tables.config())
    assert (check.ok, check.message) == (True, "Connected: 4 rows visible in customers.")
    check = connection_test(kind="mysql_table", values=mysql_tables.config(table="clients"))
    assert not check.ok
    assert "There is no table or view “clients”" in check.message
    source = source_connector_create(
        name="Bad column",
        kind="mysql_table",
        values=mysql_tables.config(updated_at_column="modified_at"),
    )
    run = _run(source)
    assert run.status == SyncRun.Status.FAILED
    assert "The updated-at column “modified_at” is not in table customers" in run.message


def test_a_refused_user_fails_the_run_at_once(mysql_tables):
    source = source_connector_create(
        name="Refused",
        kind="mysql_table",
        values=mysql_tables.config(user="nobody_here", password="wrong"),
    )
    run = _run(source)
    assert run.status == SyncRun.Status.FAILED
    assert run.retries == 0
    assert "The server refused user “nobody_here”" in run.message
