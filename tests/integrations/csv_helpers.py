"""Helpers of the CSV source tests: a source, an upload, an import run to its end."""

from integrations.csv_import.services import csv_import_start, csv_upload_store
from integrations.models import SyncRun
from integrations.sources import source_connector_create
from integrations.sync.runner import sync_run_execute


def csv_source(name: str = "Customers file", user=None, **values):
    return source_connector_create(name=name, kind="csv_upload", values=values, created_by=user)


def upload(source, content: bytes | str, name: str = "customers.csv") -> dict:
    data = content.encode() if isinstance(content, str) else content
    # Several chunks, as an upload arrives.
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)] or [b""]
    return csv_upload_store(source=source, chunks=chunks, name=name)


def import_to_end(source) -> SyncRun:
    source.refresh_from_db()
    run = csv_import_start(source=source)
    sync_run_execute(run.pk)
    return SyncRun.objects.get(pk=run.pk)
