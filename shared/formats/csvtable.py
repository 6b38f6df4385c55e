"""A tolerant, honest CSV reader: the header decides the columns, bad rows are counted with their line.

``read_table(data)`` takes the raw bytes of a delimited text file (a sensor log, an export, a
manifest) and returns a :class:`CsvTable`: the header's column names, every well-formed row as a
tuple of cells in header order with the physical line it starts on (``table.position(name)``
gives a column's index, ``table.as_dict(row)`` a ``{column: text}`` mapping), and every malformed row as a
:class:`RowIssue` (line number and reason). What it deals with deliberately:

* **Encoding.** UTF-8, with or without a byte-order mark (``bom`` records which); a UTF-16 BOM is
  honoured too. Bytes that are not valid UTF-8 raise :class:`CsvEncodingError` naming the line,
  because replacing characters would silently change machine names or values.
* **Line endings.** ``\\r\\n``, ``\\n`` and a bare ``\\r`` may be mixed in one file (files
  concatenated from several loggers are); each ends a line, and ``line_endings`` counts them.
  A quoted field may span lines; its row's ``line`` is where the row starts.
* **Header.** The first non-blank line. No such line, an empty or duplicate column name, or a first
  line that looks like data (a cell that is a date or time, or only numbers) raise :class:`CsvHeaderError`:
  guessing column meanings would be silently wrong data.
* **Delimiter.** ``,`` unless given; ``delimiter=None`` picks whichever of ``, ; \\t |`` the header
  line holds most of.
* **Malformed rows.** A row with more or fewer fields than the header, a NUL byte, or an unclosed
  quote is a :class:`RowIssue` and is not returned; the rest of the file is still read. Blank lines
  are skipped and counted (``blank_lines``).

Cells are stripped of surrounding spaces; typing them (numbers, timestamps, units) is the caller's
business. The reader holds the decoded text and the rows in memory: it is meant for files of a few
hundred MB at most, which is what a Lambda reads whole anyway.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from shared.errors import PatternError

logger = logging.getLogger(__name__)

DELIMITERS = (",", ";", "\t", "|")
MAX_ISSUES_KEPT = 1000  # beyond this, issues are counted but their details dropped

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


class CsvFormatError(PatternError, ValueError):
    """The file cannot be read as a table at all; ``details`` say what and where."""


class CsvEncodingError(CsvFormatError):
    """The bytes are not valid UTF-8 (``details``: ``line``, ``offset``)."""


class CsvHeaderError(CsvFormatError):
    """No usable header: an empty file, a data-like first line, an empty or duplicate column name."""


@dataclass(frozen=True)
class RowIssue:
    """One row that was not returned: where it starts and why."""

    line: int
    reason: str

    def to_dict(self) -> dict[str, int | str]:
        return {"line": self.line, "reason": self.reason}


class CsvRow(NamedTuple):
    """A well-formed row: the physical line it starts on and its cells, in the header's column order."""

    line: int
    cells: tuple[str, ...]


@dataclass
class CsvTable:
    columns: tuple[str, ...]
    delimiter: str
    rows: list[CsvRow] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    issue_count: int = 0
    blank_lines: int = 0
    bom: str = ""  # "utf-8", "utf-16" or ""
    line_endings: dict[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[CsvRow]:
        return iter(self.rows)

    def position(self, column: str) -> int:
        """The index of ``column`` in every row's ``cells`` (ValueError when the header lacks it)."""
        return self.columns.index(column)

    def as_dict(self, row: CsvRow) -> dict[str, str]:
        """One row as ``{column: cell}``."""
        return dict(zip(self.columns, row.cells, strict=True))

    @property
    def mixed_line_endings(self) -> bool:
        return sum(1 for n in self.line_endings.values() if n) > 1

    def add_issue(self, line: int, reason: str) -> None:
        self.issue_count += 1
        if len(self.issues) < MAX_ISSUES_KEPT:
            self.issues.append(RowIssue(line, reason))

    def summary(self) -> dict[str, object]:
        """What a result document says about the file's shape."""
        return {
            "columns": list(self.columns),
            "delimiter": self.delimiter,
            "rows": len(self.rows),
            "malformed_rows": self.issue_count,
            "malformed": [issue.to_dict() for issue in self.issues[:20]],
            "blank_lines": self.blank_lines,
            "bom": self.bom or None,
            "line_endings": {name: n for name, n in self.line_endings.items() if n},
        }


def decode(data: bytes) -> tuple[str, str]:
    """The text and the BOM found ("utf-8", "utf-16" or ""); invalid UTF-8 is a typed error."""
    if data.startswith(codecs.BOM_UTF8):
        data, bom = data[len(codecs.BOM_UTF8) :], "utf-8"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise CsvEncodingError(
                f"invalid UTF-16 after a UTF-16 byte-order mark at byte {error.start}", offset=error.start
            ) from error
    else:
        bom = ""
    try:
        return data.decode("utf-8"), bom
    except UnicodeDecodeError as error:
        line = _line_of_offset(data, error.start)
        raise CsvEncodingError(
            f"line {line} is not valid UTF-8 (byte {error.start}: {data[error.start : error.start + 1]!r})",
            line=line,
            offset=error.start,
        ) from error


def _line_of_offset(data: bytes, offset: int) -> int:
    head = data[:offset]
    crlf = head.count(b"\r\n")
    return head.count(b"\n") + head.count(b"\r") - crlf + 1


def line_endings(text: str) -> dict[str, int]:
    crlf = text.count("\r\n")
    return {"crlf": crlf, "lf": text.count("\n") - crlf, "cr": text.count("\r") - crlf}


def pick_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _first_line(text: str) -> str:
    for line in re.split(r"\r\n|\r|\n", text, maxsplit=50):
        if line.strip():
            return line
    return ""


def _check_header(cells: list[str], line: int) -> tuple[str, ...]:
    names = tuple(cell.strip() for cell in cells)
    # A date or time among the names, or nothing but numbers: the first line is a row of data.
    if any(_DATE.match(name) for name in names) or (any(names) and all(_NUMBER.match(n) for n in names if n)):
        raise CsvHeaderError(
            f"line {line} looks like data, not a header ({', '.join(names[:4])}...): the file has no header",
            line=line,
        )
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            raise CsvHeaderError(f"column {position} of the header (line {line}) has no name", line=line)
        if name in seen:
            raise CsvHeaderError(
                f"column name {name!r} appears twice in the header (columns {seen[name]} and {position})",
                line=line,
                column=name,
            )
        seen[name] = position
    return names


def read_table(data: bytes, *, delimiter: str | None = ",") -> CsvTable:
    """Parse ``data`` (see the module docstring); raises a :class:`CsvFormatError` when unusable."""
    text, bom = decode(data)
    if delimiter is None:
        delimiter = pick_delimiter(_first_line(text))
    # newline="" hands csv every line ending untouched: the reader ends a line at \r, \n or \r\n and
    # keeps quoted line breaks inside their field; line_num counts physical lines.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    table: CsvTable | None = None
    previous_end = 0
    check_nul = "\x00" in text
    strip = str.strip
    width = 0
    rows: list[CsvRow] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            start = previous_end + 1
            previous_end = reader.line_num
            if table is None:
                reason = f"the header (line {start}) is malformed: {error}"
                raise CsvHeaderError(reason, line=start) from error
            table.add_issue(start, f"malformed row: {error}")
            if "unexpected end of data" in str(error):
                break
            continue
        start = previous_end + 1
        previous_end = reader.line_num
        if not cells or (not strip(cells[0]) and not any(map(strip, cells))):
            if table is not None:
                table.blank_lines += 1
            continue
        if table is None:
            table = CsvTable(_check_header(cells, start), delimiter, bom=bom, line_endings=line_endings(text))
            width = len(table.columns)
            rows = table.rows
            continue
        if check_nul and any("\x00" in cell for cell in cells):
            table.add_issue(start, "NUL byte in the row (a corrupt or partly written file)")
            continue
        if len(cells) != width:
            table.add_issue(start, f"expected {width} fields, found {len(cells)}")
            continue
        rows.append(CsvRow(start, tuple(map(strip, cells))))
    if table is None:
        raise CsvHeaderError("the file is empty: no header line", line=1)
    return table
