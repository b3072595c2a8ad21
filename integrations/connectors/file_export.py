"""File export destination: each delivery batch as a CSV or JSON Lines file, with a manifest.

The directory stands in for object storage or an SFTP drop: whatever picks files up there must
never see half a file, so each file is written under a temporary name (`.tmp-...`), flushed to
disk and renamed into place, and the batch's manifest (`<name>.manifest.json`: file names, row
counts, SHA-256) is renamed into place last. A reader that waits for the manifest reads whole
files only. File names carry the batch id, so a retried batch replaces its own files rather than
adding copies.

Exports may only go under the deployment's export root (`CDP_EXPORT_ROOT`, default var/exports):
a configured folder that resolves outside it (`..`, an absolute path, a symbolic link) is refused,
so whoever configures a destination cannot write anywhere else on the server.

Columns: `change` (entered / exited), `profile_id`, the main `email`, `phone`, `user_id`,
`anonymous_id`, then the mapped traits in name order. JSON Lines keeps every identifier.
"""

import csv
import errno
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.utils import timezone

from integrations.connectors.audience_events import first
from integrations.connectors.base import (
    AudienceRecord,
    ConfigField,
    ConnectionCheck,
    DeliveryBatch,
    DeliveryResult,
    DestinationConnector,
    TerminalError,
    TransientError,
)
from integrations.connectors.options import option
from integrations.connectors.registry import register

IDENTIFIER_COLUMNS = ("email", "phone", "user_id", "anonymous_id")
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# A cell a spreadsheet would run as a formula. "+" and "-" only when what follows is not a number,
# so phone numbers (+447700900123) and negative amounts stay as they are.
FORMULA_START = re.compile(r"^(?:[=@\t\r]|[+-](?![\d.]+$))")
# Running out of space or a flaky network share may heal; the rest needs a person.
TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EAGAIN, errno.ETIMEDOUT})


def export_root() -> Path:
    return Path(settings.CDP_EXPORT_ROOT).resolve()


def _safe_name(text: str) -> str:
    """A file-name-safe form of `text`, with a short hash so two ids never share a name."""
    cleaned = UNSAFE_NAME.sub("_", text).strip("._")[:80] or "batch"
    return f"{cleaned}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _csv_cell(value: object) -> object:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and FORMULA_START.match(value):
        return "'" + value
    return value


@register
class FileExportDestination(DestinationConnector):
    key: ClassVar[str] = "file_export"
    label: ClassVar[str] = "File export"
    description: ClassVar[str] = (
        "Writes audience changes as CSV or JSON Lines files, with a manifest per batch, to a "
        "folder under the export root (for a bucket sync or SFTP pickup)."
    )
    max_batch: ClassVar[int] = 50_000
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "directory",
            "Folder",
            help_text="A folder under the export root (CDP_EXPORT_ROOT), e.g. crm/daily.",
        ),
        ConfigField(
            "format",
            "File format",
            kind="choice",
            required=False,
            default="csv",
            choices=(("csv", "CSV"), ("jsonl", "JSON Lines")),
        ),
        ConfigField(
            "file_prefix",
            "File name prefix",
            required=False,
            default="",
            help_text="Blank: the audience sync's key.",
        ),
    )

    def __init__(self, config: dict, secrets: dict):
        super().__init__(config, secrets)

    # Where and how -----------------------------------------------------------------------------

    def directory(self) -> Path:
        """The configured folder, resolved, refused unless it is inside the export root."""
        root = export_root()
        folder = str(option(self.fields, self.config, "directory") or "").strip()
        if not folder:
            raise TerminalError("Choose a folder under the export root.")
        target = (root / folder).resolve()
        if not target.is_relative_to(root):
            raise TerminalError(
                f"The folder {folder!r} is outside the export root {root}; exports may only go "
                "under it (set CDP_EXPORT_ROOT to move the root)."
            )
        if not target.is_dir():
            raise TerminalError(f"The folder {target} does not exist: create it first.")
        return target

    def _format(self) -> str:
        value = option(self.fields, self.config, "format")
        if value not in ("csv", "jsonl"):
            raise TerminalError(f"The file format must be CSV or JSON Lines, not {value!r}.")
        return value

    # Writing -------------------------------------------------------------------------------------

    def _rows(self, batch: DeliveryBatch) -> list[tuple[str, AudienceRecord]]:
        return [("entered", r) for r in batch.entered] + [("exited", r) for r in batch.exited]

    def _csv(self, rows: list[tuple[str, AudienceRecord]]) -> bytes:
        traits = sorted({name for _, record in rows for name in record.traits})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["change", "profile_id", *IDENTIFIER_COLUMNS, *traits])
        for change, record in rows:
            identifiers = [first(record.identifiers, kind) or "" for kind in IDENTIFIER_COLUMNS]
            values = [record.traits.get(name, "") for name in traits]
            writer.writerow([change, record.profile_id, *map(_csv_cell, identifiers + values)])
        return out.getvalue().encode()

    def _jsonl(self, rows: list[tuple[str, AudienceRecord]]) -> bytes:
        lines = [
            json.dumps(
                {
                    "change": change,
                    "profile_id": record.profile_id,
                    "identifiers": {k: list(v) for k, v in record.identifiers.items() if v},
                    "traits": record.traits,
                },
                ensure_ascii=False,
                sort_keys=True,
                default=str,
            )
            for change, record in rows
        ]
        return ("\n".join(lines) + "\n").encode() if lines else b""

    def _write(self, folder: Path, name: str, content: bytes) -> None:
        """Write `content` to `folder/name` so a reader sees either nothing or the whole file."""
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, folder / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def deliver(self, batch: DeliveryBatch) -> DeliveryResult:
        folder, file_format = self.directory(), self._format()
        rows = self._rows(batch)
        if not rows:
            return DeliveryResult()
        prefix = str(option(self.fields, self.config, "file_prefix") or "") or batch.audience_key
        base = f"{_safe_name(prefix)}-{_safe_name(batch.batch_id)}"
        content = self._csv(rows) if file_format == "csv" else self._jsonl(rows)
        data_name = f"{base}.{file_format}"
        manifest = {
            "batch_id": batch.batch_id,
            "audience_key": batch.audience_key,
            "audience_name": batch.audience_name,
            "created_at": timezone.now().isoformat(),
            "format": file_format,
            "entered": len(batch.entered),
            "exited": len(batch.exited),
            "files": [
                {
                    "name": data_name,
                    "rows": len(rows),
                    "bytes": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                }
            ],
        }
        try:
            self._write(folder, data_name, content)
            self._write(
                folder, f"{base}.manifest.json", json.dumps(manifest, indent=2).encode() + b"\n"
            )
        except OSError as error:
            message = f"Could not write to {folder}: {error.strerror or error}."
            if error.errno in TRANSIENT_ERRNOS:
                raise TransientError(message) from error
            raise TerminalError(message) from error
        return DeliveryResult()

    def check_connection(self) -> ConnectionCheck:
        try:
            folder = self.directory()
            self._format()
        except TerminalError as error:
            return ConnectionCheck(False, error.message)
        try:
            self._write(folder, ".cdp-write-check", b"ok\n")
            (folder / ".cdp-write-check").unlink()
        except OSError as error:
            return ConnectionCheck(
                False, f"The folder {folder} is not writable: {error.strerror or error}."
            )
        label = dict(self.fields[1].choices)[self._format()]
        return ConnectionCheck(True, f"Ready: {label} files will be written to {folder}.")
