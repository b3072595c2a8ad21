"""The access request's archive: everything held about the subject, as a zip of one JSON file
and one CSV file per table, built when it is downloaded (nothing is kept on disk)."""

import csv
import io
import json
import zipfile

from cdp_site.erasure import Subject, stores

from .subject import subject_build


def subject_tables(subject: Subject) -> dict[str, list[dict]]:
    tables: dict[str, list[dict]] = {}
    for store in stores():
        for table, rows in store.export(subject).items():
            tables.setdefault(table, []).extend(rows)
    return tables


def _csv(rows: list[dict]) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                key: json.dumps(value, default=str) if isinstance(value, dict | list) else value
                for key, value in row.items()
            }
        )
    return out.getvalue()


def archive_build(request) -> bytes:
    """The zip of everything the stores hold about the request's subject."""
    subject = subject_build(request.identifiers, request.subject)
    tables = subject_tables(subject)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json",
            json.dumps(
                {"request": request.pk, "identifiers": request.identifiers, "tables": tables},
                indent=2,
                default=str,
                ensure_ascii=False,
            ),
        )
        for table, rows in sorted(tables.items()):
            archive.writestr(f"{table}.csv", _csv(rows))
    return buffer.getvalue()
