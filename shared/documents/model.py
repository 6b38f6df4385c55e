"""The block model: what a page says, typed, whoever read it (Textract or the PDF text layer).

Every item carries its page (1-based) and a confidence in percent (100.0 for a text layer, which
is exact). Geometry is a :class:`Box` in page fractions (0..1, origin top-left), as Textract gives
it. :mod:`shared.documents.blocks` builds these from Textract answers, :mod:`shared.documents.layout`
from positioned text runs; both give the same shapes so a use case reads one model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

TEXTRACT = "textract"
TEXT_LAYER = "text-layer"


@dataclass(frozen=True)
class Box:
    """A rectangle in page fractions, origin at the top-left corner."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Line:
    text: str
    confidence: float
    page: int
    box: Box | None = None


@dataclass(frozen=True)
class KeyValue:
    """A form field: the key's text and the value's text ("" when the value is empty)."""

    key: str
    value: str
    confidence: float
    page: int
    box: Box | None = None


@dataclass(frozen=True)
class Cell:
    row: int  # 1-based, as Textract's RowIndex
    column: int  # 1-based, as Textract's ColumnIndex
    text: str
    confidence: float
    page: int


@dataclass(frozen=True)
class Table:
    page: int
    confidence: float
    cells: tuple[Cell, ...]

    @property
    def row_count(self) -> int:
        return max((c.row for c in self.cells), default=0)

    @property
    def column_count(self) -> int:
        return max((c.column for c in self.cells), default=0)

    def rows(self) -> list[list[str]]:
        """The table as rows of cell texts ("" where a cell is missing)."""
        grid = [["" for _ in range(self.column_count)] for _ in range(self.row_count)]
        for cell in self.cells:
            grid[cell.row - 1][cell.column - 1] = cell.text
        return grid

    def records(self) -> list[dict[str, str]]:
        """The rows after the first as dicts keyed by the first row's texts."""
        rows = self.rows()
        if not rows:
            return []
        header = [h.strip() or f"column_{i + 1}" for i, h in enumerate(rows[0])]
        return [dict(zip(header, row, strict=True)) for row in rows[1:]]


@dataclass(frozen=True)
class ExpenseField:
    """An AnalyzeExpense field: its normalised type (TOTAL, VENDOR_NAME ...), label and value."""

    type: str
    value: str
    confidence: float
    page: int
    label: str = ""
    currency: str | None = None


@dataclass(frozen=True)
class LineItem:
    fields: tuple[ExpenseField, ...]
    page: int

    def get(self, field_type: str) -> ExpenseField | None:
        return next((f for f in self.fields if f.type == field_type), None)


@dataclass(frozen=True)
class ExpenseDocument:
    """One invoice or receipt found by AnalyzeExpense."""

    index: int
    summary: tuple[ExpenseField, ...]
    line_items: tuple[LineItem, ...]

    def get(self, field_type: str) -> ExpenseField | None:
        """The most confident summary field of ``field_type``, or None."""
        matches = [f for f in self.summary if f.type == field_type]
        return max(matches, key=lambda f: f.confidence) if matches else None


@dataclass(frozen=True)
class ParsedDocument:
    """Everything read from one document (or the pages of it that one call covered)."""

    source: str
    page_count: int
    lines: tuple[Line, ...] = ()
    key_values: tuple[KeyValue, ...] = ()
    tables: tuple[Table, ...] = ()
    expenses: tuple[ExpenseDocument, ...] = ()
    pages: tuple[int, ...] = field(default_factory=tuple)

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def value(self, key: str) -> str | None:
        """The value of the first key-value whose key matches ``key`` (case and colon ignored)."""
        wanted = _norm_key(key)
        return next((kv.value for kv in self.key_values if _norm_key(kv.key) == wanted), None)


def _norm_key(key: str) -> str:
    return " ".join(key.strip().rstrip(":").lower().split())


def merge(documents: list[ParsedDocument]) -> ParsedDocument:
    """Several partial results (pages read separately) as one document, in page order."""
    if not documents:
        return ParsedDocument(source=TEXT_LAYER, page_count=0)
    sources = {d.source for d in documents}
    return ParsedDocument(
        source=sources.pop() if len(sources) == 1 else "mixed",
        page_count=max(d.page_count for d in documents),
        lines=tuple(sorted((x for d in documents for x in d.lines), key=lambda x: x.page)),
        key_values=tuple(sorted((x for d in documents for x in d.key_values), key=lambda x: x.page)),
        tables=tuple(sorted((x for d in documents for x in d.tables), key=lambda x: x.page)),
        expenses=tuple(x for d in documents for x in d.expenses),
        pages=tuple(sorted({p for d in documents for p in d.pages})),
    )
