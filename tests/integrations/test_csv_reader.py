"""The streaming CSV reader: encodings, delimiters, quoting, ragged and broken rows, resuming."""

import codecs

import pytest

from integrations.csv_import.reader import (
    CsvFileError,
    CsvStream,
    csv_format_detect,
    csv_preview,
    delimiter_sniff,
    header_clean,
    line_count,
)


@pytest.fixture
def write(tmp_path):
    def make(content: bytes | str, name: str = "file.csv"):
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make


def _rows(path, **kwargs):
    fmt = csv_format_detect(path, **kwargs)
    stream = CsvStream(path, fmt)
    return fmt, [(line, fields or stream.error) for line, fields in stream]


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        ("email,name\na@x.io,Ann\n", ","),
        ("email;name\na@x.io;Ann\n", ";"),
        ("email\tname\na@x.io\tAnn\n", "\t"),
        ("email|name\na@x.io|Ann\n", "|"),
        ('email;note\na@x.io;"one, two, three"\n', ";"),
        ("email\na@x.io\n", ","),
    ],
)
def test_the_delimiter_is_sniffed(write, content, delimiter):
    fmt, rows = _rows(write(content))
    assert fmt.delimiter == delimiter
    assert rows[0][0] == 2


def test_a_utf8_byte_order_mark_is_skipped(write):
    fmt, rows = _rows(write(codecs.BOM_UTF8 + "e-mail,prénom\nä@x.io,Zoë\n".encode()))
    assert fmt.header == ("e-mail", "prénom")
    assert fmt.data_offset == 3 + len("e-mail,prénom\n".encode())
    assert rows == [(2, ["ä@x.io", "Zoë"])]


def test_quoted_newlines_stay_in_their_field_and_lines_count_physically(write):
    path = write('id,note\r\n1,"two\r\nlines"\r\n2,plain\r\n')
    _, rows = _rows(path)
    assert rows == [(2, ["1", "two\r\nlines"]), (4, ["2", "plain"])]


def test_blank_lines_are_skipped_and_ragged_rows_come_through(write):
    _, rows = _rows(write("a,b\n1,2\n\n3\n4,5,6\n"))
    assert rows == [(2, ["1", "2"]), (4, ["3"]), (5, ["4", "5", "6"])]


def test_a_row_with_broken_quoting_is_one_bad_row(write):
    _, rows = _rows(write('a,b\n1,"x"y\n2,3\n'))
    assert rows[0][0] == 2
    assert "quoting" in rows[0][1]
    assert rows[1] == (3, ["2", "3"])


def test_an_unclosed_quote_at_the_end_is_reported(write):
    _, rows = _rows(write('a,b\n1,2\n3,"open\n'))
    assert rows[0] == (2, ["1", "2"])
    assert rows[1] == (3, "A quoted field is not closed before the end of the file.")


@pytest.mark.parametrize("content", [b"", b"   \n\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n"])
def test_an_empty_file_is_refused_clearly(write, content):
    with pytest.raises(CsvFileError, match="The file is empty"):
        csv_format_detect(write(content))


def test_a_header_only_file_has_no_rows(write):
    fmt, rows = _rows(write("email,name\n"))
    assert fmt.header == ("email", "name")
    assert rows == []
    assert line_count(write("email,name"), fmt) == 0


def test_non_utf8_bytes_are_a_clear_error_naming_the_line(write):
    path = write(b"email,name\na@x.io,Ann\n" + "b@x.io,Zoë\n".encode("cp1252"))
    with pytest.raises(CsvFileError, match=r"Line 3 is not UTF-8 text \(byte 0xeb"):
        _rows(path)


def test_non_utf8_bytes_after_the_sample_are_reported_while_reading(write):
    body = "email,name\n" + "a@x.io,Ann\n" * 10_000
    path = write(body.encode() + b"\xff,x\n")
    fmt = csv_format_detect(path)
    with pytest.raises(CsvFileError, match="Line 10002 is not UTF-8"):
        list(CsvStream(path, fmt))


def test_a_chosen_single_byte_encoding_reads_what_utf8_refuses(write):
    path = write("email,name\nb@x.io,Zoë\n".encode("cp1252"))
    _, rows = _rows(path, encoding="cp1252")
    assert rows == [(2, ["b@x.io", "Zoë"])]


def test_a_file_without_line_feeds_is_refused(write):
    with pytest.raises(CsvFileError, match="carriage return"):
        csv_format_detect(write("a,b\r1,2\r"))


def test_header_names_are_never_empty_nor_twice():
    assert header_clean([" Email ", "", "email", "Name"]) == (
        "Email",
        "Column 2",
        "email (2)",
        "Name",
    )


def test_reading_resumes_exactly_at_an_offset(write):
    lines = ["id,note"] + [f'{i},"n\n{i}"' if i % 3 == 0 else f"{i},n{i}" for i in range(1, 50)]
    path = write("\n".join(lines) + "\n")
    fmt = csv_format_detect(path)
    whole = list(CsvStream(path, fmt))
    stream = CsvStream(path, fmt)
    first = []
    for row in stream:
        first.append(row)
        if len(first) == 17:
            break
    rest = list(CsvStream(path, fmt, offset=stream.offset, lines=stream.lines))
    assert first + rest == whole
    assert line_count(path, fmt) == stream.lines - fmt.data_line + len(rest) + sum(
        1 for _, fields in rest if "\n" in fields[1]
    )


def test_preview_shows_the_first_rows(write):
    path = write("a,b\n" + "".join(f"{i},{i}\n" for i in range(30)))
    fmt = csv_format_detect(path)
    assert csv_preview(path, fmt, limit=3) == [(2, ["0", "0"]), (3, ["1", "1"]), (4, ["2", "2"])]


def test_sniffing_prefers_consistent_columns():
    assert delimiter_sniff("a;b,c;d\n1;2,3;4\n5;6,7;8\n") == ";"


def test_counting_lines_checks_the_whole_file_is_text(write):
    body = "email,name\n" + "a@x.io,Ann\n" * 200_000
    path = write(body.encode() + b"b@x.io,Zo\xeb\n")
    fmt = csv_format_detect(path)
    with pytest.raises(CsvFileError, match=r"Line 200002 is not UTF-8 text \(byte 0xeb at byte 10"):
        line_count(path, fmt)
    assert line_count(write(body), csv_format_detect(write(body))) == 200_000
