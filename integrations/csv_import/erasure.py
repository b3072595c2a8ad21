"""A data subject's rows in uploaded CSV files and in bad-row reports, for erasure and access.

An uploaded file is rewritten without the subject's rows: each of their records becomes as many
blank lines as it spanned, so every other row keeps its line number (and so its record id, and
the checkpoint of an import of the file stays true); a blank line is no row. A bad-row report
that holds the subject is deleted: it is a copy of rows for a person to read, and the run's page
then says it has no report. Rows are matched by the subject's values as whole words in any field
(`cdp_site.erasure.subject_pattern`); the header line is never touched.
"""

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cdp_site.erasure import Subject, subject_pattern

from .files import uploads_dir
from .reader import ENCODINGS, CsvFileError, CsvStream, csv_format_detect

REPORT_SUFFIX = ".bad-rows.csv"


@dataclass(frozen=True)
class SubjectRow:
    file: str
    line: int
    fields: list[str]


def _pattern(subject: Subject) -> re.Pattern | None:
    pattern = subject_pattern(subject)
    return re.compile(pattern, re.IGNORECASE) if pattern else None


def _uploads() -> list[Path]:
    return sorted(
        path
        for path in uploads_dir().glob("*.csv")
        if not path.name.endswith(REPORT_SUFFIX) and not path.name.startswith(".")
    )


def _reports() -> list[Path]:
    return sorted(uploads_dir().glob(f"*{REPORT_SUFFIX}"))


def _records(path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of each data record of an uploaded file, in the first
    encoding that reads it."""
    for encoding in ENCODINGS:
        try:
            fmt = csv_format_detect(path, encoding=encoding)
            stream = CsvStream(path, fmt)
            found = []
            for line, fields in stream:
                if fields is not None:
                    found.append((line, stream.lines, fields))
        except CsvFileError:
            continue
        yield from found
        return


def _subject_records(path: Path, pattern: re.Pattern) -> list[tuple[int, int, list[str]]]:
    return [
        (first, last, fields)
        for first, last, fields in _records(path)
        if pattern.search("\x1f".join(fields))
    ]


def _blank_lines(path: Path, lines: set[int]) -> None:
    """Rewrite `path` with the given (1-based) physical lines blank, through a temporary file
    renamed over it, so a reader never sees half a file."""
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=".erase-", delete=False)  # noqa: SIM115
    try:
        with handle, path.open("rb") as source:
            for number, raw in enumerate(source, start=1):
                if number in lines:
                    # The line's own ending only: the line count, and so every line number, stays.
                    raw = raw[len(raw.rstrip(b"\r\n")) :]
                handle.write(raw)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _report_holds(path: Path, pattern: re.Pattern) -> bool:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return any(pattern.search(line) for line in handle)


def csv_subject_count(subject: Subject) -> int:
    """The subject's rows in uploaded files plus the reports that hold them."""
    pattern = _pattern(subject)
    if pattern is None:
        return 0
    rows = sum(len(_subject_records(path, pattern)) for path in _uploads())
    return rows + sum(1 for path in _reports() if _report_holds(path, pattern))


def csv_subject_erase(subject: Subject) -> int:
    """Blank the subject's rows in every uploaded file and delete the reports holding them."""
    pattern = _pattern(subject)
    if pattern is None:
        return 0
    removed = 0
    for path in _uploads():
        records = _subject_records(path, pattern)
        if records:
            _blank_lines(path, {n for first, last, _ in records for n in range(first, last + 1)})
            removed += len(records)
    for path in _reports():
        if _report_holds(path, pattern):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def csv_subject_rows(subject: Subject) -> list[SubjectRow]:
    """The subject's rows in uploaded files, for the access archive."""
    pattern = _pattern(subject)
    if pattern is None:
        return []
    return [
        SubjectRow(file=path.stem, line=first, fields=fields)
        for path in _uploads()
        for first, _last, fields in _subject_records(path, pattern)
    ]
