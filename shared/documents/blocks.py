"""Textract answers into the block model (:mod:`shared.documents.model`).

:func:`parse_blocks` reads the ``Blocks`` of DetectDocumentText, AnalyzeDocument (FORMS, TABLES)
or GetDocumentAnalysis (all pages of an async job, concatenated): LINE blocks become lines,
KEY_VALUE_SET pairs become key-values (a selection element reads ``[X]`` or ``[ ]``), TABLE blocks
become tables of their CELL children. :func:`parse_expense` reads AnalyzeExpense's (or
GetExpenseAnalysis's) ``ExpenseDocuments``. A synchronous call on one split page numbers it 1;
``page_offset`` puts it back at its place in the original document. A relationship to a block
that is not in the answer raises :class:`BlockModelError` rather than dropping text silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.documents.errors import DocumentError
from shared.documents.model import (
    TEXTRACT,
    Box,
    Cell,
    ExpenseDocument,
    ExpenseField,
    KeyValue,
    Line,
    LineItem,
    ParsedDocument,
    Table,
)

logger = logging.getLogger(__name__)

Block = Mapping[str, Any]


class BlockModelError(DocumentError):
    """A Textract answer refers to a block it does not contain, or lacks a required field."""


def _box(block: Block) -> Box | None:
    bbox = block.get("Geometry", {}).get("BoundingBox")
    if not bbox:
        return None
    return Box(float(bbox["Left"]), float(bbox["Top"]), float(bbox["Width"]), float(bbox["Height"]))


def _children(block: Block, kind: str = "CHILD") -> list[str]:
    return [
        i
        for rel in block.get("Relationships", []) or []
        if rel.get("Type") == kind
        for i in rel.get("Ids", [])
    ]


class _Index:
    def __init__(self, blocks: Sequence[Block]) -> None:
        self.by_id = {b["Id"]: b for b in blocks if "Id" in b}

    def get(self, block_id: str, parent: Block) -> Block:
        try:
            return self.by_id[block_id]
        except KeyError:
            raise BlockModelError(
                f"{parent.get('BlockType')} block {parent.get('Id')} refers to missing block {block_id}",
                block_id=block_id,
            ) from None

    def text(self, block: Block) -> str:
        words: list[str] = []
        for child_id in _children(block):
            child = self.get(child_id, block)
            if child.get("BlockType") == "WORD":
                words.append(str(child.get("Text", "")))
            elif child.get("BlockType") == "SELECTION_ELEMENT":
                words.append("[X]" if child.get("SelectionStatus") == "SELECTED" else "[ ]")
        return " ".join(words)


def parse_blocks(
    blocks: Iterable[Block], page_offset: int = 0, page_count: int | None = None
) -> ParsedDocument:
    """The lines, key-values and tables of a Textract ``Blocks`` list."""
    items = list(blocks)
    index = _Index(items)
    lines: list[Line] = []
    kvs: list[KeyValue] = []
    tables: list[Table] = []
    pages: set[int] = set()
    for block in items:
        kind = block.get("BlockType")
        page = int(block.get("Page", 1)) + page_offset
        confidence = float(block.get("Confidence", 0.0))
        if kind == "PAGE":
            pages.add(page)
        elif kind == "LINE":
            lines.append(Line(str(block.get("Text", "")), confidence, page, _box(block)))
        elif kind == "KEY_VALUE_SET" and "KEY" in block.get("EntityTypes", []):
            value_ids = _children(block, "VALUE")
            value = " ".join(index.text(index.get(v, block)) for v in value_ids)
            value_conf = min(
                [float(index.get(v, block).get("Confidence", 0.0)) for v in value_ids] or [confidence]
            )
            kvs.append(
                KeyValue(
                    index.text(block).strip().rstrip(":").strip(),
                    value,
                    min(confidence, value_conf),
                    page,
                    _box(block),
                )
            )
        elif kind == "TABLE":
            cells = []
            for cell_id in _children(block):
                cell = index.get(cell_id, block)
                if cell.get("BlockType") != "CELL":
                    continue
                if "RowIndex" not in cell or "ColumnIndex" not in cell:
                    raise BlockModelError(f"CELL block {cell.get('Id')} has no RowIndex/ColumnIndex")
                cells.append(
                    Cell(
                        int(cell["RowIndex"]),
                        int(cell["ColumnIndex"]),
                        index.text(cell),
                        float(cell.get("Confidence", 0.0)),
                        page,
                    )
                )
            tables.append(Table(page, confidence, tuple(cells)))
    pages.update(line.page for line in lines)
    pages.update(kv.page for kv in kvs)
    pages.update(table.page for table in tables)
    count = page_count if page_count is not None else max(pages, default=0)
    return ParsedDocument(TEXTRACT, count, tuple(lines), tuple(kvs), tuple(tables), (), tuple(sorted(pages)))


def _field(raw: Mapping[str, Any], page_offset: int) -> ExpenseField:
    kind = raw.get("Type", {})
    value = raw.get("ValueDetection", {}) or {}
    label = raw.get("LabelDetection", {}) or {}
    currency = (raw.get("Currency") or {}).get("Code")
    return ExpenseField(
        type=str(kind.get("Text", "OTHER")),
        value=str(value.get("Text", "")),
        confidence=float(value.get("Confidence", kind.get("Confidence", 0.0))),
        page=int(raw.get("PageNumber", 1)) + page_offset,
        label=str(label.get("Text", "")),
        currency=str(currency) if currency else None,
    )


def parse_expense(
    expense_documents: Iterable[Mapping[str, Any]], page_offset: int = 0
) -> list[ExpenseDocument]:
    """The summary fields and line items of each AnalyzeExpense document."""
    out: list[ExpenseDocument] = []
    for raw in expense_documents:
        summary = tuple(_field(f, page_offset) for f in raw.get("SummaryFields", []))
        items: list[LineItem] = []
        for group in raw.get("LineItemGroups", []):
            for item in group.get("LineItems", []):
                fields = tuple(_field(f, page_offset) for f in item.get("LineItemExpenseFields", []))
                items.append(LineItem(fields, min((f.page for f in fields), default=1 + page_offset)))
        out.append(ExpenseDocument(int(raw.get("ExpenseIndex", len(out) + 1)), summary, tuple(items)))
    return out


def expense_document(expense_documents: Iterable[Mapping[str, Any]], page_offset: int = 0) -> ParsedDocument:
    """An AnalyzeExpense answer as a :class:`ParsedDocument` (its lines from the embedded blocks)."""
    raw_docs = list(expense_documents)
    expenses = parse_expense(raw_docs, page_offset)
    blocks = [b for d in raw_docs for b in d.get("Blocks", [])]
    text = parse_blocks(blocks, page_offset) if blocks else ParsedDocument(TEXTRACT, 0)
    pages = sorted({f.page for e in expenses for f in e.summary} | set(text.pages))
    return ParsedDocument(
        TEXTRACT,
        max(pages, default=0),
        text.lines,
        text.key_values,
        text.tables,
        tuple(expenses),
        tuple(pages),
    )
