"""Reading a CSV file as a stream of rows, with the byte offset and line number after each row.

The file is read a line at a time (never whole), each line decoded on its own, and handed to the
standard `csv` module, which pulls only the lines a record needs: a quoted field may span lines.
After each row the stream knows the byte offset and the physical line it reached, so an import
can stop anywhere and start again from that exact point.

A problem with one row (bad quoting, a wrong number of fields) is that row's problem; a problem
with the file (empty, not text in the chosen encoding, no line breaks) is a `CsvFileError`.
"""

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

# A physical line longer than this is not a CSV line (a binary file, or one without line breaks);
# it also bounds what is held in memory at once.
MAX_LINE_BYTES = 1024 * 1024
# What the delimiter and the header are guessed from.
SAMPLE_BYTES = 64 * 1024
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODINGS = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "ISO-8859-1 (Latin-1)"}
_BOM = codecs.BOM_UTF8


class CsvFileError(Exception):
    """The file cannot be read as CSV; `message` says why and what to do, for people."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CsvFormat:
    """How a file is written, found once when it is uploaded, then used for every read."""

    encoding: str
    delimiter: str
    header: tuple[str, ...]
    # Where the rows start: the byte offset after the header, and the physical lines before it.
    data_offset: int
    data_line: int

    def as_json(self) -> dict:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header": list(self.header),
            "data_offset": self.data_offset,
            "data_line": self.data_line,
        }

    @classmethod
    def from_json(cls, value: dict) -> "CsvFormat":
        return cls(
            encoding=value["encoding"],
            delimiter=value["delimiter"],
            header=tuple(value["header"]),
            data_offset=int(value["data_offset"]),
            data_line=int(value["data_line"]),
        )


class CsvStream:
    """The rows of a file from a byte offset on: iterate for `(line, fields)`.

    `line` is the physical line the row starts on (1-based, as an editor numbers them). After
    each row, `offset` and `lines` are the byte offset and the number of physical lines read up
    to the end of that row: the place to resume from. A row the `csv` module cannot parse comes
    as `(line, None)`, with its reason in `error`, and the stream goes on with the next line.
    """

    def __init__(self, path: Path, fmt: CsvFormat, *, offset: int | None = None, lines: int = 0):
        self.format = fmt
        self.offset = fmt.data_offset if offset is None else offset
        self.lines = fmt.data_line if offset is None else lines
        self.error = ""
        self._path = path

    def _physical_lines(self, handle) -> Iterator[str]:
        encoding = self.format.encoding
        for raw in iter(partial(handle.readline, MAX_LINE_BYTES + 1), b""):
            if len(raw) > MAX_LINE_BYTES:
                raise CsvFileError(
                    f"Line {self.lines + 1} is longer than {MAX_LINE_BYTES // 1024} KB: "
                    "is this a CSV file with line breaks?"
                )
            self.offset += len(raw)
            self.lines += 1
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as problem:
                raise _decode_error(self.lines, raw, problem, encoding) from None

    def __iter__(self) -> Iterator[tuple[int, list[str] | None]]:
        with self._path.open("rb") as handle:
            handle.seek(self.offset)
            reader = csv.reader(
                self._physical_lines(handle), delimiter=self.format.delimiter, strict=True
            )
            start = self.lines + 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as problem:
                    self.error = _csv_reason(problem)
                    yield start, None
                else:
                    if fields:  # a blank line is no row
                        yield start, fields
                start = self.lines + 1


def _decode_error(line: int, raw: bytes, problem: UnicodeDecodeError, encoding: str):
    return CsvFileError(
        f"Line {line} is not {ENCODINGS.get(encoding, encoding)} text "
        f"(byte 0x{raw[problem.start]:02x} at byte {problem.start + 1} of the line). Save the "
        "file as UTF-8 (in a spreadsheet: “CSV UTF-8”), or choose the file's encoding, and "
        "upload it again."
    )


def _csv_reason(problem: csv.Error) -> str:
    text = str(problem)
    if "field larger than field limit" in text:
        return "A field is longer than 128 KB (a quote that is never closed?)."
    if "unexpected end of data" in text:
        return "A quoted field is not closed before the end of the file."
    return f"The row's quoting is broken ({text})."


def csv_format_detect(path: Path, *, encoding: str = "utf-8", delimiter: str = "") -> CsvFormat:
    """The encoding, delimiter (sniffed unless given) and header of a file, from its first bytes.

    `CsvFileError` when the file is empty, is not text in `encoding`, or has no header.
    """
    if encoding not in ENCODINGS:
        raise CsvFileError(f"Unknown encoding “{encoding}”.")
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    start = len(_BOM) if sample.startswith(_BOM) else 0
    if not sample[start:].strip():
        raise CsvFileError("The file is empty: it needs a header line and rows.")
    if b"\n" not in sample and b"\r" in sample:
        raise CsvFileError(
            "The file's lines end in a lone carriage return (old Mac style); save it with "
            "Windows or Unix line endings."
        )
    if start and encoding != "utf-8":
        # A UTF-8 byte order mark says what the file is, whatever was chosen.
        encoding = "utf-8"
    text_sample = _sample_text(sample[start:], encoding, whole=len(sample) < SAMPLE_BYTES)
    if not delimiter:
        delimiter = delimiter_sniff(text_sample)
    elif delimiter not in DELIMITERS:
        raise CsvFileError("The delimiter must be a comma, semicolon, tab or pipe.")
    fmt = CsvFormat(
        encoding=encoding, delimiter=delimiter, header=(), data_offset=start, data_line=0
    )
    stream = CsvStream(path, fmt)
    for line, fields in stream:
        if fields is None:
            raise CsvFileError(f"The header on line {line} cannot be read: {stream.error}")
        return CsvFormat(
            encoding=encoding,
            delimiter=delimiter,
            header=header_clean(fields),
            data_offset=stream.offset,
            data_line=stream.lines,
        )
    raise CsvFileError("The file is empty: it needs a header line and rows.")


def _sample_text(sample: bytes, encoding: str, *, whole: bool) -> str:
    if not whole and b"\n" in sample:
        # Up to the last complete line, so no character or row is cut in half.
        sample = sample[: sample.rindex(b"\n") + 1]
    try:
        return sample.decode(encoding)
    except UnicodeDecodeError as problem:
        line = sample.count(b"\n", 0, problem.start) + 1
        line_start = sample.rfind(b"\n", 0, problem.start) + 1
        raw = sample[line_start:]
        shifted = UnicodeDecodeError(
            problem.encoding,
            problem.object,
            problem.start - line_start,
            problem.end - line_start,
            problem.reason,
        )
        raise _decode_error(line, raw, shifted, encoding) from None


def delimiter_sniff(sample: str) -> str:
    """The delimiter that splits the sample's lines into the most columns, the same number on
    each line; a comma when none splits them (a file of one column)."""
    lines = sample.splitlines(keepends=True)[:50]
    best, best_score = ",", (0, 0)
    for candidate in DELIMITERS:
        try:
            rows = [row for row in csv.reader(lines, delimiter=candidate) if row]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(1 for row in rows if len(row) == width)
        score = (consistent, width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def header_clean(fields: list[str]) -> tuple[str, ...]:
    """Column names as people will see and map them: trimmed, never empty, never twice."""
    seen: dict[str, int] = {}
    names = []
    for index, field in enumerate(fields, start=1):
        name = field.strip() or f"Column {index}"
        count = seen.get(name.lower(), 0)
        seen[name.lower()] = count + 1
        names.append(name if not count else f"{name} ({count + 1})")
    return tuple(names)


def csv_preview(path: Path, fmt: CsvFormat, limit: int = 10) -> list[tuple[int, list[str]]]:
    """The first `limit` rows after the header, as `(line, fields)`; an unreadable row shows its
    reason as its only field."""
    rows = []
    stream = CsvStream(path, fmt)
    for line, fields in stream:
        rows.append((line, fields if fields is not None else [stream.error]))
        if len(rows) >= limit:
            break
    return rows


def line_count(path: Path, fmt: CsvFormat) -> int:
    """Physical lines after the header: the import's total. Read in blocks (fast), and decoded on
    the way, so a file that is not text in its encoding is refused when it is uploaded, with the
    line to fix, rather than half-way through its import."""
    count = fmt.data_line
    last = b"\n"
    decoder = codecs.getincrementaldecoder(fmt.encoding)()
    with path.open("rb") as handle:
        handle.seek(fmt.data_offset)
        for block in iter(partial(handle.read, 1024 * 1024), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as problem:
                _raise_block_error(block, problem, count, fmt.encoding)
            count += block.count(b"\n")
            last = block[-1:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as problem:
        raise CsvFileError(
            f"The file ends in the middle of a character: it is not "
            f"{ENCODINGS.get(fmt.encoding, fmt.encoding)} text."
        ) from problem
    return count - fmt.data_line + (0 if last == b"\n" else 1)


def _raise_block_error(block: bytes, problem: UnicodeDecodeError, lines_before: int, encoding):
    # The decoder may hold back up to 3 bytes of a character begun in the previous block; the
    # position is within this block's bytes, near enough for naming the line.
    position = max(0, min(problem.start, len(block) - 1))
    line_start = block.rfind(b"\n", 0, position) + 1
    line = lines_before + block.count(b"\n", 0, position) + 1
    shifted = UnicodeDecodeError(problem.encoding, block, position, position + 1, problem.reason)
    raise _decode_error(line, block[line_start:], _shift(shifted, line_start), encoding) from None


def _shift(problem: UnicodeDecodeError, by: int) -> UnicodeDecodeError:
    return UnicodeDecodeError(
        problem.encoding, problem.object, problem.start - by, problem.end - by, problem.reason
    )
