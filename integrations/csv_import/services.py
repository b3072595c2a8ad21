"""Writes of CSV sources: storing an upload, saving the column mapping, starting an import.

The file, its format and the mapping live in the source's config under the keys the connector
keeps for itself (`file`, `mapping`, `import_id`); a source's settings form leaves them alone.
"""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

from cdp_site.errors import ConflictError, InvalidInputError
from integrations.models import Source, SyncRun
from integrations.sync.runner import sync_run_start

from .files import file_path, file_store
from .guess import mapping_guess
from .mapping import mapping_clean
from .reader import CsvFileError, CsvFormat, csv_format_detect, csv_preview, line_count

CSV_KIND = "csv_upload"
PREVIEW_ROWS = 10


def _csv_source_check(source: Source) -> None:
    if source.kind != CSV_KIND:
        raise InvalidInputError(f"Source “{source.name}” is not a CSV upload source.")


def _no_active_import(source: Source) -> None:
    """An import reads the file and mapping it started with, also when it is resumed after a
    crash: neither may change under it."""
    if SyncRun.objects.filter(source=source, status__in=SyncRun.ACTIVE).exists():
        raise ConflictError(
            f"An import of “{source.name}” is under way: wait for it to end, or cancel it, "
            "before changing its file or mapping.",
            code="run_active",
        )


def _config_update(source: Source, **changes) -> dict:
    """Change some keys of the source's config without losing a concurrent change to others."""
    with transaction.atomic():
        config = (
            Source.objects.select_for_update().values_list("config", flat=True).get(pk=source.pk)
        )
        config = {**(config or {}), **changes}
        Source.objects.filter(pk=source.pk).update(config=config)
    source.config = config
    return config


def csv_upload_store(*, source: Source, chunks, name: str, user=None) -> dict:
    """Keep an uploaded file (streamed to disk), read its format and count its lines, and make it
    the source's file, with a mapping guessed from its header (earlier choices kept). The file's
    description is returned; `InvalidInputError` says what is wrong with the file."""
    _csv_source_check(source)
    _no_active_import(source)
    file_id, size = file_store(chunks, max_bytes=settings.CDP_CSV_MAX_BYTES)
    path = file_path(file_id)
    config = source.config or {}
    delimiter = config.get("delimiter") or "auto"
    try:
        fmt = csv_format_detect(
            path,
            encoding=config.get("encoding") or "utf-8",
            delimiter="" if delimiter == "auto" else delimiter,
        )
        lines = line_count(path, fmt)
    except CsvFileError as problem:
        if not _file_in_use(file_id):
            path.unlink(missing_ok=True)
        raise InvalidInputError(problem.message, code="invalid_csv", field="file") from None
    file = {
        "id": file_id,
        "name": (name or "upload.csv")[:200],
        "size": size,
        "lines": lines,
        "format": fmt.as_json(),
        "uploaded_at": datetime.now(tz=UTC).isoformat(),
        "uploaded_by": getattr(user, "username", ""),
    }
    mapping = mapping_guess(fmt.header, config.get("mapping"))
    _config_update(source, file=file, mapping=mapping, file_deleted=None)
    return file


def _file_in_use(file_id: str) -> bool:
    return Source.objects.filter(kind=CSV_KIND, config__file__id=file_id).exists()


def csv_mapping_save(*, source: Source, mapping: object) -> dict:
    """Check and keep the source's mapping (against its file's header, when it has one)."""
    _csv_source_check(source)
    _no_active_import(source)
    file = (source.config or {}).get("file")
    header = tuple(file["format"]["header"]) if file else None
    mapping = mapping_clean(mapping, header)
    _config_update(source, mapping=mapping)
    return mapping


def csv_import_start(
    *, source: Source, user=None, trigger: str = SyncRun.Trigger.MANUAL
) -> SyncRun:
    """Start importing the source's file from its first row, as a new sync run.

    `InvalidInputError` without a file or with a mapping to fix; `ConflictError` while another
    run of the source is active (then nothing changes)."""
    _csv_source_check(source)
    file = (source.config or {}).get("file")
    if not file:
        raise InvalidInputError("Upload a CSV file first.", code="no_file")
    mapping_clean((source.config or {}).get("mapping") or {}, tuple(file["format"]["header"]))
    with transaction.atomic():
        _config_update(source, import_id=uuid.uuid4().hex)
        return sync_run_start(source=source, trigger=trigger, user=user)


def csv_preview_rows(source: Source, limit: int = PREVIEW_ROWS) -> list[tuple[int, list[str]]]:
    """The first rows of the source's file (empty without one)."""
    file = (source.config or {}).get("file")
    if not file:
        return []
    path = file_path(file["id"])
    if not path.exists():
        return []
    try:
        return csv_preview(path, CsvFormat.from_json(file["format"]), limit)
    except CsvFileError:
        return []
