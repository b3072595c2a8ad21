"""A data subject's rows in the files the file export destination wrote, for erasure and access.

Each `file_export` destination's folder is read through its manifests (`*.manifest.json`): the
files they list are the export's files, nothing else in the folder is touched. A row holds the
subject when its `profile_id` is one of theirs or one of their values appears in it as a whole
word (`cdp_site.erasure.subject_pattern`). A file is rewritten without those rows (a CSV file keeps
its header; a JSON Lines file loses the lines) under a temporary name and renamed into place, then
its manifest is rewritten the same way with the new row counts, size and SHA-256, so the manifest
stays true to the file. A second erasure finds nothing and writes nothing.

Paths never leave the export root: the folder is the connector's own (refused outside the root),
and a manifest or a file name that resolves elsewhere (`..`, a symbolic link) is skipped.
"""

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cdp_site.erasure import Subject, subject_pattern

from .base import TerminalError
from .file_export import FileExportDestination, export_root

KIND = FileExportDestination.key


@dataclass
class ExportFile:
    """One data file listed by a manifest, parsed into rows."""

    destination: str
    folder: Path
    manifest_path: Path
    manifest: dict
    entry: dict
    path: Path
    file_format: str
    header: list[str] | None  # CSV only
    rows: list  # CSV: field lists; JSON Lines: raw lines (str)


def _folders() -> list[tuple[str, Path]]:
    """(destination name, resolved folder) of each file export destination, each folder once."""
    from integrations.models import Destination

    seen: dict[Path, str] = {}
    for destination in Destination.objects.filter(kind=KIND).order_by("name"):
        try:
            folder = FileExportDestination(destination.config or {}, {}).directory()
        except TerminalError:
            # No folder, or one outside the root: nothing was (or may be) written there.
            continue
        seen.setdefault(folder, destination.name)
    return [(name, folder) for folder, name in seen.items()]


def _inside(path: Path, folder: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_relative_to(folder) and resolved.is_relative_to(export_root())


def _files(name: str, folder: Path) -> list[ExportFile]:
    found = []
    for manifest_path in sorted(folder.glob("*.manifest.json")):
        if not manifest_path.is_file() or not _inside(manifest_path, folder):
            continue
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        file_format = manifest.get("format") if isinstance(manifest, dict) else None
        if file_format not in ("csv", "jsonl"):
            continue
        for entry in manifest.get("files") or []:
            file_name = str(entry.get("name") or "")
            path = folder / file_name
            if "/" in file_name or not path.is_file() or not _inside(path, folder):
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            if file_format == "csv":
                records = list(csv.reader(io.StringIO(text, newline="")))
                header, rows = (records[0], records[1:]) if records else (None, [])
            else:
                header, rows = None, [line for line in text.split("\n") if line.strip()]
            found.append(
                ExportFile(
                    name, folder, manifest_path, manifest, entry, path, file_format, header, rows
                )
            )
    return found


def _holds(export: ExportFile, row, pattern: re.Pattern | None, profile_ids: set[str]) -> bool:
    if export.file_format == "csv":
        text = "\x1f".join(row)
        profile_id = row[1] if len(row) > 1 else ""
    else:
        text = row
        try:
            profile_id = str(json.loads(row).get("profile_id", ""))
        except (ValueError, AttributeError):
            profile_id = ""
    return profile_id in profile_ids or bool(pattern and pattern.search(text))


def _subject_rows(subject: Subject) -> list[tuple[ExportFile, list]]:
    """Each export file with the rows in it that hold the subject."""
    pattern = subject_pattern(subject)
    compiled = re.compile(pattern, re.IGNORECASE) if pattern else None
    profile_ids = {str(pk) for pk in subject.profile_ids}
    if compiled is None and not profile_ids:
        return []
    return [
        (export, [row for row in export.rows if _holds(export, row, compiled, profile_ids)])
        for name, folder in _folders()
        for export in _files(name, folder)
    ]


def _content(export: ExportFile, rows: list) -> bytes:
    if export.file_format == "jsonl":
        return ("\n".join(rows) + "\n").encode() if rows else b""
    # The same writer the connector uses, so the rows kept come out byte for byte as they were.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if export.header is not None:
        writer.writerow(export.header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _change(export: ExportFile, row) -> str:
    if export.file_format == "csv":
        return row[0] if row else ""
    try:
        return str(json.loads(row).get("change", ""))
    except (ValueError, AttributeError):
        return ""


def _rewrite(export: ExportFile, held: list) -> None:
    """The file without `held`, then its manifest with the new figures, each renamed into place."""
    held_ids = {id(row) for row in held}
    kept = [row for row in export.rows if id(row) not in held_ids]
    content = _content(export, kept)
    writer = FileExportDestination({}, {})
    writer._write(export.folder, export.path.name, content)
    export.entry.update(
        rows=len(kept), bytes=len(content), sha256=hashlib.sha256(content).hexdigest()
    )
    for change in ("entered", "exited"):
        if isinstance(export.manifest.get(change), int):
            gone = sum(1 for row in held if _change(export, row) == change)
            export.manifest[change] = max(0, export.manifest[change] - gone)
    writer._write(
        export.folder,
        export.manifest_path.name,
        json.dumps(export.manifest, indent=2).encode() + b"\n",
    )


def file_export_subject_count(subject: Subject) -> int:
    """The subject's rows in export files."""
    return sum(len(held) for _, held in _subject_rows(subject))


def file_export_subject_erase(subject: Subject) -> int:
    """Rewrite every export file holding the subject without their rows; rows removed."""
    removed = 0
    for export, held in _subject_rows(subject):
        if held:
            _rewrite(export, held)
            removed += len(held)
    return removed


def file_export_subject_export(subject: Subject) -> dict[str, list[dict]]:
    """The subject's rows in export files, for the access archive."""
    rows = []
    for export, held in _subject_rows(subject):
        for row in held:
            if export.file_format == "csv":
                values = dict(zip(export.header or [], row, strict=False))
            else:
                try:
                    values = json.loads(row)
                except ValueError:
                    values = {"line": row}
            rows.append(
                {"destination": export.destination, "file": export.path.name, "row": values}
            )
    return {"file_export_rows": rows}
