"""Textract limits and routes, and the text-layer analysis into the block model."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfWriter

from shared.documents.errors import DocumentLimitError
from shared.documents.inspect import DocumentInfo, PageSize, inspect_document
from shared.documents.layout import analyse, expense_from, parse_layout
from shared.documents.limits import ASYNC, SYNC, TEXT_LAYER, check_async, check_sync, route
from shared.documents.pdf import read_pdf
from shared.formats.samples import documents as samples
from tests.shared.documents.samples import invoice_page

LETTER = PageSize(8.5, 11.0)


def _info(fmt: str, pages: int, size: int = 1000) -> DocumentInfo:
    return DocumentInfo(fmt, size, pages, tuple(LETTER for _ in range(pages)))


def test_routes() -> None:
    assert route(_info("pdf", 3), ()).mode == TEXT_LAYER
    one = route(_info("pdf", 3), (2,))
    assert (one.mode, one.ocr_pages) == (SYNC, (2,))
    assert route(_info("pdf", 3), (1, 3)).mode == ASYNC
    assert route(_info("tiff", 1)).mode == SYNC
    assert route(_info("tiff", 4)).mode == ASYNC
    assert route(_info("jpeg", 1)).mode == SYNC
    assert route(_info("pdf", 1, 11 * 1024 * 1024)).mode == ASYNC


def test_limits_are_clear_reasons() -> None:
    with pytest.raises(DocumentLimitError, match="synchronous limit of 10485760"):
        check_sync(_info("jpeg", 1, 11 * 1024 * 1024))
    with pytest.raises(DocumentLimitError, match="2 pages: a synchronous call takes one PDF page"):
        check_sync(_info("pdf", 2))
    with pytest.raises(DocumentLimitError, match="3001 pages exceeds Textract's limit of 3000"):
        check_async(_info("pdf", 3001))
    with pytest.raises(DocumentLimitError, match="limit of 10 MB for JPEG"):
        route(_info("jpeg", 1, 11 * 1024 * 1024))


def test_dimensions_from_independent_files() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=41 * 72, height=792)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentLimitError, match=r"page 1 width is 41.0 in; Textract accepts at most 40 in"):
        route(inspect_document(out.getvalue()))
    png = io.BytesIO()
    Image.new("L", (10_001, 8), 255).save(png, "PNG", dpi=(1000, 1000))
    with pytest.raises(DocumentLimitError, match="10001 px; Textract accepts at most 10000 px"):
        route(inspect_document(png.getvalue()))


def test_text_layer_reads_key_values_tables_and_expense_fields() -> None:
    runs = read_pdf(samples.text_pdf([invoice_page()])).pages[0].runs
    parsed = parse_layout(analyse(runs), 1)
    assert parsed.value("Invoice No") == "INV-1001"
    assert parsed.tables[0].records()[1] == {
        "Description": "Toner",
        "Qty": "2",
        "Unit Price": "30.00",
        "Amount": "60.00",
    }
    expense = expense_from(parsed)
    assert expense.get("TOTAL") is not None and expense.get("TOTAL").value == "115.50"  # type: ignore[union-attr]
    assert expense.get("TOTAL").currency == "USD"  # type: ignore[union-attr]
    assert expense.get("INVOICE_RECEIPT_ID").currency is None  # type: ignore[union-attr]
    assert expense.get("VENDOR_NAME").value == "Acme Supplies Ltd"  # type: ignore[union-attr]
    assert [i.get("PRICE").value for i in expense.line_items] == ["45.00", "60.00"]  # type: ignore[union-attr]
