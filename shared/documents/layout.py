"""Positioned text runs into the block model: lines, key-value pairs, tables, expense fields.

A born-digital PDF page whose text layer is usable skips OCR; this module reads the same things
from its runs that Textract would: each run a :class:`~shared.documents.model.Line`, ``Label:
value`` runs (or a ``Label:`` run followed by a run on its row) a key-value pair, and a block of
rows aligned on three or more columns a table whose first row is the header. :func:`expense_from`
maps the labels and column headers onto AnalyzeExpense's normalised field types (``TOTAL``,
``INVOICE_RECEIPT_ID``, ``ITEM`` ...), so a use case reads a text-layer invoice and a Textract one
through one model. The local Textract stand-in answers from the same analysis.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.documents.model import (
    TEXT_LAYER,
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
from shared.documents.pdf import TextRun

logger = logging.getLogger(__name__)

_KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z][^:]{0,39}):\s*(?P<value>.*)$")
MIN_TABLE_COLUMNS = 3
EXACT = 100.0

# Label (lower case, no colon) -> AnalyzeExpense summary field type.
SUMMARY_TYPES = {
    "vendor": "VENDOR_NAME",
    "vendor name": "VENDOR_NAME",
    "seller": "VENDOR_NAME",
    "supplier": "VENDOR_NAME",
    "invoice": "INVOICE_RECEIPT_ID",
    "invoice no": "INVOICE_RECEIPT_ID",
    "invoice number": "INVOICE_RECEIPT_ID",
    "invoice #": "INVOICE_RECEIPT_ID",
    "receipt no": "INVOICE_RECEIPT_ID",
    "invoice date": "INVOICE_RECEIPT_DATE",
    "date": "INVOICE_RECEIPT_DATE",
    "due date": "DUE_DATE",
    "payment due": "DUE_DATE",
    "bill to": "RECEIVER_NAME",
    "customer": "RECEIVER_NAME",
    "subtotal": "SUBTOTAL",
    "sub total": "SUBTOTAL",
    "tax": "TAX",
    "vat": "TAX",
    "sales tax": "TAX",
    "total": "TOTAL",
    "amount due": "AMOUNT_DUE",
    "currency": "CURRENCY",
    "po number": "PO_NUMBER",
    "tax id": "TAX_PAYER_ID",
    "vat id": "TAX_PAYER_ID",
}
# Column header (lower case) -> AnalyzeExpense line-item field type.
ITEM_TYPES = {
    "description": "ITEM",
    "item": "ITEM",
    "product": "ITEM",
    "qty": "QUANTITY",
    "quantity": "QUANTITY",
    "unit price": "UNIT_PRICE",
    "price": "UNIT_PRICE",
    "rate": "UNIT_PRICE",
    "amount": "PRICE",
    "line total": "PRICE",
    "total": "PRICE",
    "product code": "PRODUCT_CODE",
    "sku": "PRODUCT_CODE",
}
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR", "SEK")
_CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CURRENCY = re.compile(r"\b(" + "|".join(CURRENCY_CODES) + r")\b")


@dataclass(frozen=True)
class Layout:
    """The analysis of one page's runs, keeping the runs each item came from (for the stand-in)."""

    runs: tuple[TextRun, ...]
    key_values: tuple[tuple[TextRun, TextRun | None, str, str], ...]  # key run, value run, key, value
    tables: tuple[tuple[tuple[int, int, TextRun], ...], ...]  # per table: (row, column, run)


def box_of(run: TextRun) -> Box:
    return Box(run.left, run.top, run.width, run.height)


def rows_of(runs: Sequence[TextRun]) -> list[list[TextRun]]:
    """Runs grouped into visual rows (same page, vertical centres within half a run height)."""
    ordered = sorted(runs, key=lambda r: (r.page, r.top + r.height / 2, r.left))
    rows: list[list[TextRun]] = []
    for run in ordered:
        centre = run.top + run.height / 2
        if rows:
            last = rows[-1]
            last_centre = sum(r.top + r.height / 2 for r in last) / len(last)
            if last[0].page == run.page and abs(centre - last_centre) <= max(r.height for r in last) / 2:
                last.append(run)
                continue
        rows.append([run])
    return [sorted(row, key=lambda r: r.left) for row in rows]


def _column(run: TextRun, header: Sequence[TextRun]) -> int:
    def distance(h: TextRun) -> float:
        return min(abs(run.left - h.left), abs(run.left + run.width - h.left - h.width))

    return min(range(len(header)), key=lambda i: distance(header[i])) + 1


def analyse(runs: Iterable[TextRun]) -> Layout:
    """Key-values and tables among ``runs`` (any number of pages)."""
    all_runs = tuple(runs)
    rows = rows_of(all_runs)
    tables: list[tuple[tuple[int, int, TextRun], ...]] = []
    in_table: set[int] = set()
    index = 0
    while index < len(rows):
        header = rows[index]
        if len(header) < MIN_TABLE_COLUMNS or any(_KEY_VALUE.match(r.text) for r in header):
            index += 1
            continue
        cells = [(1, c + 1, run) for c, run in enumerate(header)]
        following = index + 1
        while following < len(rows):
            row = rows[following]
            if row[0].page != header[0].page or len(row) < 2 or any(_KEY_VALUE.match(r.text) for r in row):
                break
            number = following - index + 1
            cells.extend((number, _column(run, header), run) for run in row)
            following += 1
        if following - index >= 2:
            tables.append(tuple(cells))
            in_table.update(id(run) for _, _, run in cells)
            index = following
        else:
            index += 1
    key_values: list[tuple[TextRun, TextRun | None, str, str]] = []
    for row in rows:
        for position, run in enumerate(row):
            if id(run) in in_table:
                continue
            match = _KEY_VALUE.match(run.text)
            if not match:
                continue
            key, value = match.group("key").strip(), match.group("value").strip()
            value_run: TextRun | None = None
            if not value and position + 1 < len(row) and not _KEY_VALUE.match(row[position + 1].text):
                value_run = row[position + 1]
                value = value_run.text
            key_values.append((run, value_run, key, value))
    return Layout(all_runs, tuple(key_values), tuple(tables))


def parse_layout(layout: Layout, page_count: int, confidence: float = EXACT) -> ParsedDocument:
    """The block model of an analysed layout."""
    lines = tuple(Line(r.text, confidence, r.page, box_of(r)) for r in layout.runs)
    kvs = tuple(KeyValue(k, v, confidence, run.page, box_of(run)) for run, _, k, v in layout.key_values)
    tables = tuple(
        Table(
            cells[0][2].page,
            confidence,
            tuple(Cell(r, c, run.text, confidence, run.page) for r, c, run in cells),
        )
        for cells in layout.tables
    )
    pages = tuple(sorted({r.page for r in layout.runs}))
    return ParsedDocument(TEXT_LAYER, page_count, lines, kvs, tables, (), pages)


def currency_of(text: str) -> str | None:
    """An ISO currency code written in ``text`` (a code or a sign), or None."""
    match = _CURRENCY.search(text)
    if match:
        return match.group(1)
    return next((code for sign, code in _CURRENCY_SIGNS.items() if sign in text), None)


def expense_from(document: ParsedDocument, index: int = 1) -> ExpenseDocument:
    """AnalyzeExpense's view of a parsed document: summary fields by label, line items by column."""
    page_currency = next((c for c in (currency_of(line.text) for line in document.lines) if c), None)
    summary: list[ExpenseField] = []
    for kv in document.key_values:
        kind = SUMMARY_TYPES.get(" ".join(kv.key.lower().split()), "OTHER")
        currency = currency_of(kv.value) or (page_currency if _looks_amount(kv.value) else None)
        summary.append(ExpenseField(kind, kv.value, kv.confidence, kv.page, kv.key, currency))
    if not any(f.type == "VENDOR_NAME" for f in summary) and document.lines:
        first = min(document.lines, key=lambda line: (line.page, line.box.top if line.box else 0.0))
        summary.append(ExpenseField("VENDOR_NAME", first.text, first.confidence * 0.9, first.page, ""))
    items: list[LineItem] = []
    for table in document.tables:
        rows = table.rows()
        types = [ITEM_TYPES.get(" ".join(h.lower().split()), "OTHER") for h in rows[0]]
        if "ITEM" not in types and "PRICE" not in types:
            continue
        for row in rows[1:]:
            fields = tuple(
                ExpenseField(
                    kind,
                    text,
                    table.confidence,
                    table.page,
                    rows[0][i],
                    (currency_of(text) or page_currency) if kind in {"PRICE", "UNIT_PRICE"} else None,
                )
                for i, (kind, text) in enumerate(zip(types, row, strict=True))
                if text
            )
            fields += (
                ExpenseField("EXPENSE_ROW", "  ".join(t for t in row if t), table.confidence, table.page),
            )
            items.append(LineItem(fields, table.page))
    return ExpenseDocument(index, tuple(summary), tuple(items))


_AMOUNT = re.compile(r"^(?:[$€£¥]|[A-Z]{3} )?\s*-?[\d,]*\d\.\d{2}(?: [A-Z]{3})?$")


def _looks_amount(text: str) -> bool:
    return bool(_AMOUNT.match(text.strip()))
