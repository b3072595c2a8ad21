"""Reads of CSV sources for their pages: the file, its preview, the mapping, the runs and their
bad-row reports."""

import json
from pathlib import Path

from django.http import Http404

from cdp_site.audit import AuditAction, audit_record
from cdp_site.errors import InvalidInputError
from cdp_site.params import id_in_range
from integrations.models import Source, SyncRun

from .files import report_path
from .guess import mapping_guess
from .mapping import PLAIN_TARGETS, TARGET_LABELS, RowError, RowMapper
from .services import csv_preview_rows

RECENT_RUNS = 10


def csv_file(source: Source) -> dict | None:
    return (source.config or {}).get("file")


def csv_mapping(source: Source) -> dict:
    """The source's mapping, completed with a guess for columns of its file it does not name."""
    config = source.config or {}
    file = config.get("file")
    mapping = config.get("mapping") or {}
    if not file:
        return mapping
    return mapping_guess(tuple(file["format"]["header"]), mapping)


def csv_runs(source: Source, limit: int = RECENT_RUNS) -> list[SyncRun]:
    return list(SyncRun.objects.filter(source=source).order_by("-created_at", "-id")[:limit])


def csv_run_get(source: Source, run_id: int) -> SyncRun:
    run = SyncRun.objects.filter(source=source, pk=run_id).first() if id_in_range(run_id) else None
    if run is None:
        raise Http404("No such import.")
    return run


def csv_run_report(run: SyncRun) -> Path | None:
    """The bad-row report of an import run, if it wrote one."""
    checkpoint = run.checkpoint or {}
    try:
        path = report_path(checkpoint.get("file", ""), checkpoint.get("import_id", ""))
    except InvalidInputError:
        return None
    return path if path.exists() else None


def csv_preview_for_user(*, user, source: Source) -> list[tuple[int, list[str]]]:
    """The first rows of the source's file, as a person sees them (audited: rows hold personal
    data)."""
    rows = csv_preview_rows(source)
    if rows:
        _audit(user, source, AuditAction.SOURCE_FILE_PREVIEW, file=csv_file(source)["id"])
    return rows


def csv_run_report_for_user(*, user, source: Source, run: SyncRun) -> Path | None:
    """The bad-row report of a run, for a person to download (audited)."""
    path = csv_run_report(run)
    if path is not None:
        _audit(user, source, AuditAction.SOURCE_BAD_ROWS_DOWNLOAD, run_id=run.pk)
    return path


def _audit(user, source: Source, action: AuditAction, **detail) -> None:
    audit_record(user=user, action=action, detail={"source_id": source.pk, **detail}, sender=Source)


def mapping_rows(source: Source, mapping: dict) -> list[dict]:
    """One row per column of the file for the mapping form: name, a sample value, the target."""
    file = csv_file(source)
    if not file:
        return []
    header = file["format"]["header"]
    preview = csv_preview_rows(source, limit=3)
    rows = []
    for index, column in enumerate(header):
        target = mapping.get("columns", {}).get(column, "ignore")
        kind, _, key = target.partition(":")
        samples = [fields[index] for _, fields in preview if index < len(fields) and fields[index]]
        rows.append(
            {
                "index": index,
                "column": column,
                "kind": kind,
                "key": key,
                "samples": samples[:3],
            }
        )
    return rows


TARGET_CHOICES = [
    (target, TARGET_LABELS[target]) for target in (*PLAIN_TARGETS, "trait", "property")
]


def mapping_sample_messages(source: Source, mapping: dict, limit: int = 3) -> list[dict]:
    """What the first rows become with `mapping`: `{"line", "json"}` or `{"line", "error"}`."""
    file = csv_file(source)
    if not file:
        return []
    mapper = RowMapper(mapping, tuple(file["format"]["header"]))
    samples = []
    for line, fields in csv_preview_rows(source, limit=limit):
        try:
            message = mapper.message(fields)
            samples.append(
                {"line": line, "json": json.dumps(message, indent=2, ensure_ascii=False)}
            )
        except RowError as problem:
            samples.append({"line": line, "error": problem.reason})
    return samples
