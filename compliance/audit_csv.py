"""The audit log as a CSV file: one line per row, details as readable text, streamed."""

import csv
from collections.abc import Iterable, Iterator

from cdp_site.audit import action_label

from .audit_detail import audit_detail_lines
from .models import AuditEvent

HEADER = ["at_utc", "user", "action", "action_code", "profile_id", "details"]


class _Echo:
    def write(self, value):
        return value


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: details echo what people typed, and a cell starting
    with =, +, - or @ would run as a formula when the file is opened."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_csv_lines(rows: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for row in rows:
        details = "; ".join(f"{label}: {text}" for label, text in audit_detail_lines(row.detail))
        yield writer.writerow(
            [
                row.at.isoformat(),
                _cell(row.username),
                action_label(row.action),
                row.action,
                row.profile_id or "",
                _cell(details),
            ]
        )
