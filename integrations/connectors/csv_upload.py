"""CSV upload: the rows of an uploaded file, mapped to identify or track events.

A person (or the API) uploads a file (see `integrations.csv_import.services`), which is kept under
the var directory; its format, line count and the column mapping go into the source's config.
Starting an import gives it a fresh `import_id`; a run reads the file from the checkpoint of that
import (byte offset and line number), so a killed run resumes where its last batch was committed,
and a new import starts again from the first row.

A row's record id is the file's content hash and the row's line, its version a hash of the row
(and of the mapping), so importing the same file twice stores its rows once. Rows that cannot
become messages are reported with their line and reason, in the run's errors and in a bad-row
report file that can be downloaded.
"""

from collections.abc import Iterator

from django.conf import settings

from cdp_site.errors import InvalidInputError
from integrations.csv_import.files import BadRowReport, file_path, report_path
from integrations.csv_import.mapping import RowError, RowMapper, row_version
from integrations.csv_import.reader import DELIMITERS, ENCODINGS, CsvFileError, CsvFormat, CsvStream

from .base import (
    ConfigField,
    ConnectionCheck,
    Connector,
    ReadBatch,
    RecordError,
    SourceRecord,
    TerminalError,
)
from .registry import register


@register
class CsvUploadConnector(Connector):
    key = "csv_upload"
    label = "CSV upload"
    kind = "source"
    description = (
        "Rows of a CSV file uploaded in the browser or through the API: customers (identify) or "
        "events (track), with a column mapping remembered for the next file."
    )
    fields = (
        ConfigField(
            "encoding",
            "Encoding",
            kind="choice",
            required=False,
            default="utf-8",
            choices=tuple(ENCODINGS.items()),
            help_text="How the file's text is written; spreadsheets save “CSV UTF-8” as UTF-8.",
        ),
        ConfigField(
            "delimiter",
            "Delimiter",
            kind="choice",
            required=False,
            default="auto",
            choices=(
                ("auto", "Detect"),
                *((d, name.capitalize()) for d, name in DELIMITERS.items()),
            ),
            help_text="What separates the columns; detected from the first lines by default.",
        ),
    )
    # Kept in the config by the CSV services, not the settings form: the uploaded file, the
    # mapping, the current import.
    state_keys = ("file", "mapping", "import_id", "file_deleted")
    # Reading touches only the file: the runner parses the next batch while it stores this one.
    prefetch = True

    def check_connection(self) -> ConnectionCheck:
        file = self.config.get("file")
        if not file:
            return ConnectionCheck(False, "No file yet: upload a CSV file to import.")
        try:
            exists = file_path(file.get("id", "")).exists()
        except InvalidInputError:
            exists = False
        if not exists:
            return ConnectionCheck(
                False, f"The file “{file.get('name')}” is gone: upload it again."
            )
        return ConnectionCheck(
            True, f"Ready: “{file.get('name')}”, {file.get('lines', 0):,} lines after the header."
        )

    def read(self, checkpoint: dict) -> Iterator[ReadBatch]:
        file = self.config.get("file")
        import_id = self.config.get("import_id") or ""
        if not file or not import_id:
            raise TerminalError("No file to import: upload a CSV file and start its import.")
        path = file_path(file["id"])
        if not path.exists():
            raise TerminalError(f"The file “{file.get('name')}” is gone: upload it again.")
        fmt = CsvFormat.from_json(file["format"])
        try:
            mapper = RowMapper(self.config.get("mapping") or {}, fmt.header)
        except InvalidInputError as problem:
            raise TerminalError(f"The column mapping needs fixing: {problem.message}") from None

        resuming = checkpoint.get("import_id") == import_id and checkpoint.get("file") == file["id"]
        if resuming and checkpoint.get("finished"):
            return
        report = BadRowReport(
            report_path(file["id"], import_id),
            fmt.header,
            size=checkpoint.get("report_bytes") if resuming else None,
        )
        stream = (
            CsvStream(path, fmt, offset=checkpoint["offset"], lines=checkpoint["lines"])
            if resuming
            else CsvStream(path, fmt)
        )
        total = int(file.get("lines") or 0)
        prefix = file["id"][:16]
        fingerprint = mapper.fingerprint
        message = mapper.message
        batch_rows = settings.CDP_CSV_BATCH_ROWS
        records: list[SourceRecord] = []
        errors: list[RecordError] = []
        bad: list[tuple[int, str, list[str]]] = []

        def batch(finished: bool) -> ReadBatch:
            report_bytes = report.append(bad)
            done = stream.lines - fmt.data_line
            result = ReadBatch(
                records=list(records),
                errors=list(errors),
                checkpoint={
                    "import_id": import_id,
                    "file": file["id"],
                    "offset": stream.offset,
                    "lines": stream.lines,
                    "report_bytes": report_bytes,
                    "finished": finished,
                },
                total=total,
                done=total if finished else min(done, total),
            )
            records.clear()
            errors.clear()
            bad.clear()
            return result

        try:
            for line, fields in stream:
                if fields is None:
                    reason = stream.error
                else:
                    try:
                        records.append(
                            SourceRecord(
                                f"{prefix}:{line}",
                                row_version(fingerprint, fields),
                                message(fields),
                            )
                        )
                    except RowError as problem:
                        reason = problem.reason
                    else:
                        if len(records) + len(errors) >= batch_rows:
                            yield batch(False)
                        continue
                errors.append(RecordError(f"line {line}", reason))
                bad.append((line, reason, fields or []))
                if len(records) + len(errors) >= batch_rows:
                    yield batch(False)
        except CsvFileError as problem:
            # The rows read before the problem are kept; the run fails with what to fix.
            yield batch(False)
            raise TerminalError(problem.message) from None
        yield batch(True)
