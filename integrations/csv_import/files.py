"""Uploaded CSV files on disk, under the var directory, named by the hash of their content.

A file is written in chunks as it arrives (never held whole in memory) and named by its SHA-256:
uploading the same file again finds the same name, so its rows keep their record ids and are
stored once. Beside each file, the bad-row report of each import of it.
"""

import csv
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from cdp_site.errors import InvalidInputError

CHUNK_BYTES = 1024 * 1024
_FILE_ID = re.compile(r"^[0-9a-f]{64}$")
_IMPORT_ID = re.compile(r"^[0-9a-f]{32}$")


def uploads_dir() -> Path:
    directory = Path(settings.VAR_DIR) / "csv_uploads"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def file_path(file_id: str) -> Path:
    if not _FILE_ID.match(file_id or ""):
        raise InvalidInputError("No such uploaded file.", code="invalid_file")
    return uploads_dir() / f"{file_id}.csv"


def report_path(file_id: str, import_id: str) -> Path:
    if not _IMPORT_ID.match(import_id or ""):
        raise InvalidInputError("No such import.", code="invalid_import")
    return uploads_dir() / f"{file_id}.{import_id}.bad-rows.csv"


def file_store(chunks: Iterable[bytes], *, max_bytes: int) -> tuple[str, int]:
    """Write `chunks` to the uploads directory; `(file id, size)`. Over `max_bytes` is refused
    (`InvalidInputError`) and nothing is kept."""
    directory = uploads_dir()
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".upload-", delete=False)  # noqa: SIM115
    try:
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise InvalidInputError(
                        f"The file is larger than {max_bytes // (1024 * 1024)} MB.",
                        code="file_too_large",
                    )
                digest.update(chunk)
                handle.write(chunk)
        file_id = digest.hexdigest()
        os.replace(handle.name, directory / f"{file_id}.csv")
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return file_id, size


class BadRowReport:
    """The bad rows of one import, appended as the import reads: line, reason, then the row.

    `truncate(size)` cuts it back to what a checkpoint recorded, so an import resumed after a
    crash does not report the rows after its checkpoint twice.
    """

    def __init__(self, path: Path, header: tuple[str, ...], *, size: int | None):
        self.path = path
        if size is None or not path.exists():
            with path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerow(["line", "reason", *header])
        else:
            with path.open("r+b") as handle:
                handle.truncate(size)

    def append(self, rows: list[tuple[int, str, list[str]]]) -> int:
        """Add `(line, reason, fields)` rows; the report's size in bytes after them."""
        with self.path.open("a", newline="", encoding="utf-8", errors="replace") as handle:
            if rows:
                csv.writer(handle).writerows(
                    [line, reason, *fields] for line, reason, fields in rows
                )
            handle.flush()
            return handle.tell()

    def size(self) -> int:
        return self.path.stat().st_size
