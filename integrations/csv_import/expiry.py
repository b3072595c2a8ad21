"""Uploaded CSV files are deleted some days after their upload, with their bad-row reports.

Once imported, a file's rows live on as events; the file on disk would be a second copy of
personal data that no retention rule reaches. So a file (and the reports of its imports) is
deleted `CDP_CSV_KEEP_DAYS` after it was written, unless an import of it is under way; a source
whose current file is deleted forgets it and says so on its page (upload it again to import it
again). Partial uploads left by a broken connection go after a day.
"""

import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ..models import Source, SyncRun
from .erasure import REPORT_SUFFIX
from .files import uploads_dir

CSV_KIND = "csv_upload"
PARTIAL_PREFIX = ".upload-"
PARTIAL_KEEP_SECONDS = 24 * 3600


def _file_id(path: Path) -> str:
    """The uploaded file a path belongs to (the file itself or one of its reports)."""
    return path.name.split(".", 1)[0]


def _files_in_use() -> set[str]:
    """Files an import is reading now (a resumed import needs its file)."""
    checkpoints = SyncRun.objects.filter(
        source__kind=CSV_KIND, status__in=SyncRun.ACTIVE
    ).values_list("checkpoint", flat=True)
    in_use = {str((checkpoint or {}).get("file") or "") for checkpoint in checkpoints}
    # A queued import has no checkpoint yet: it reads its source's current file.
    in_use |= {
        str(((config or {}).get("file") or {}).get("id") or "")
        for config in Source.objects.filter(
            kind=CSV_KIND, sync_runs__status__in=SyncRun.ACTIVE
        ).values_list("config", flat=True)
    }
    return in_use - {""}


def csv_uploads_expire(now: float | None = None) -> dict[str, int]:
    """Delete the uploads and reports older than `CDP_CSV_KEEP_DAYS` and stale partial uploads;
    {"files", "reports", "partials"} deleted."""
    now = time.time() if now is None else now
    cutoff = now - settings.CDP_CSV_KEEP_DAYS * 86400
    in_use = _files_in_use()
    deleted = {"files": 0, "reports": 0, "partials": 0}
    gone: set[str] = set()
    for path in uploads_dir().iterdir():
        try:
            written = path.stat().st_mtime
        except FileNotFoundError:
            continue
        if path.name.startswith(PARTIAL_PREFIX):
            if written < now - PARTIAL_KEEP_SECONDS:
                path.unlink(missing_ok=True)
                deleted["partials"] += 1
            continue
        if written >= cutoff or _file_id(path) in in_use:
            continue
        path.unlink(missing_ok=True)
        if path.name.endswith(REPORT_SUFFIX):
            deleted["reports"] += 1
        else:
            deleted["files"] += 1
            gone.add(_file_id(path))
    if gone:
        _sources_forget(gone, now)
    return deleted


def _sources_forget(file_ids: set[str], now: float) -> None:
    """Sources whose current file was deleted forget it, keeping a note of what went when."""
    deleted_at = datetime.fromtimestamp(now, tz=UTC).isoformat()
    for source in Source.objects.filter(kind=CSV_KIND, config__file__id__in=sorted(file_ids)):
        with transaction.atomic():
            config = (
                Source.objects.select_for_update()
                .values_list("config", flat=True)
                .get(pk=source.pk)
            ) or {}
            file = config.get("file") or {}
            if file.get("id") not in file_ids:
                continue
            config = {k: v for k, v in config.items() if k != "file"}
            config["file_deleted"] = {"name": file.get("name", ""), "deleted_at": deleted_at}
            Source.objects.filter(pk=source.pk).update(config=config)
