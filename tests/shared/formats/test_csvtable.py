"""The shared CSV reader, on files written by Python's csv module and on hand-built bytes."""

from __future__ import annotations

import codecs
import csv
import io

import pytest

from shared.formats.csvtable import CsvEncodingError, CsvHeaderError, read_table


def _written(rows: list[list[str]], *, terminator: str = "\r\n", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator, delimiter=delimiter)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def test_a_file_written_by_the_csv_module_reads_back_cell_for_cell() -> None:
    rows = [
        ["ts", "machine", "note"],
        ["2026-01-01T00:00:00", "m,1", 'says "hi"'],
        ["2026-01-01T00:01:00", "m2", "a\nb"],
    ]
    table = read_table(_written(rows))
    assert table.columns == ("ts", "machine", "note")
    assert [table.as_dict(row) for row in table] == [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [row.line for row in table] == [2, 3]  # the quoted line break keeps row 3 starting on line 3
    assert table.issue_count == 0


def test_bom_and_mixed_line_endings_are_read_and_reported() -> None:
    data = codecs.BOM_UTF8 + b"a,b\r\n1,2\n3,4\r5,6\r\n"
    table = read_table(data)
    assert table.columns == ("a", "b")  # the BOM is not part of the first column's name
    assert [table.as_dict(row)["b"] for row in table] == ["2", "4", "6"]
    assert table.bom == "utf-8"
    assert table.line_endings == {"crlf": 2, "lf": 1, "cr": 1}
    assert table.mixed_line_endings


def test_malformed_rows_are_counted_with_their_line_and_the_rest_is_read() -> None:
    data = b"a,b,c\n1,2,3\n1,2\n\n1,2,3,4\n7,8,9\n"
    table = read_table(data)
    assert [row.line for row in table] == [2, 6]
    assert [(issue.line, issue.reason) for issue in table.issues] == [
        (3, "expected 3 fields, found 2"),
        (5, "expected 3 fields, found 4"),
    ]
    assert table.blank_lines == 1
    assert table.summary()["malformed_rows"] == 2


def test_a_nul_byte_and_an_unclosed_quote_are_malformed_rows() -> None:
    table = read_table(b'a,b\n1,2\n3,\x00\n5,6\n7,"open\n')
    assert [row.cells[0] for row in table] == ["1", "5"]
    assert [issue.line for issue in table.issues] == [3, 5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\r\n  \n", "empty"),
        (b"2026-01-01 00:00:00,m1,3.5\n", "looks like data"),
        (b"1,2,3\n4,5,6\n", "looks like data"),
        (b"a,,c\n1,2,3\n", "column 2 of the header"),
        (b"a,b,a\n1,2,3\n", "appears twice"),
    ],
)
def test_a_file_without_a_usable_header_is_a_typed_error(data: bytes, message: str) -> None:
    with pytest.raises(CsvHeaderError, match=message):
        read_table(data)


def test_bytes_that_are_not_utf8_name_their_line() -> None:
    with pytest.raises(CsvEncodingError, match="line 3 is not valid UTF-8") as raised:
        read_table("a,b\r\n1,2\r\nPr\u00e4zision,3\r\n".encode("latin-1"))
    assert raised.value.details["line"] == 3


def test_a_utf16_file_with_its_bom_is_decoded() -> None:
    table = read_table("a;b\n1;2\n".encode("utf-16"), delimiter=None)
    assert table.bom == "utf-16"
    assert table.delimiter == ";"
    assert table.as_dict(table.rows[0]) == {"a": "1", "b": "2"}


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_picked_from_the_header(delimiter: str) -> None:
    table = read_table(_written([["x", "y"], ["1", "2"]], delimiter=delimiter), delimiter=None)
    assert table.delimiter == delimiter
    assert table.as_dict(table.rows[0]) == {"x": "1", "y": "2"}
