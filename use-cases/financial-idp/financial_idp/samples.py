"""UC2's sample documents: invoices and bank statements, born-digital and scanned, and broken files.

Every document is built from its numbers (Decimal arithmetic), drawn with the shared writers
(``shared.formats.samples.documents``): a text layer for born-digital PDFs, JPEG/PNG/TIFF scans
carrying the record of what they show, scanned and mixed PDFs. :func:`plan` lists the demo's files
and what the pipeline must make of each (route, document type, whether a rule fails, or the typed
error of a broken file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from shared.formats.samples import documents as docs
from shared.formats.samples.documents import Run

logger = logging.getLogger(__name__)

ITEMS = (
    ("Printer paper A4 (box)", 3, Decimal("24.90")),
    ("Toner cartridge TN-247", 2, Decimal("71.50")),
    ("Desk organiser", 1, Decimal("18.00")),
    ("USB-C dock", 1, Decimal("129.00")),
    ("Whiteboard markers (12)", 4, Decimal("9.75")),
)
VENDORS = ("Acme Office Supplies Ltd", "Nordwind Handel GmbH", "Blue Harbor Trading Co")
CURRENCIES = ("USD", "EUR", "GBP")


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,.2f}"


def invoice_page(number: int, *, wrong_total: bool = False, bad_date: bool = False) -> list[Run]:
    """One invoice page; its totals add up unless ``wrong_total``; its date parses unless ``bad_date``."""
    return invoice_pages(number, 1, wrong_total=wrong_total, bad_date=bad_date)[0]


def invoice_pages(
    number: int, pages: int, *, wrong_total: bool = False, bad_date: bool = False
) -> list[list[Run]]:
    """One invoice over ``pages`` pages: the header on the first, the items split, the totals on the last."""
    vendor, currency = VENDORS[number % len(VENDORS)], CURRENCIES[number % len(CURRENCIES)]
    items = [ITEMS[(number + i) % len(ITEMS)] for i in range(2 + number % 3 + 2 * (pages - 1))]
    rows = [[name, str(qty), _money(price), _money(price * qty)] for name, qty, price in items]
    subtotal = sum((price * qty for _, qty, price in items), Decimal(0))
    tax = (subtotal * Decimal("0.10")).quantize(Decimal("0.01"))
    total = subtotal + tax + (Decimal("10.00") if wrong_total else Decimal(0))
    runs = [
        Run(vendor, 72, 60, 16),
        Run(f"Invoice No: INV-{number:05d}", 72, 100),
        Run("Invoice Date: " + ("31/31/2026" if bad_date else f"2026-11-{1 + number % 28:02d}"), 72, 116),
        Run(f"Due Date: 2026-12-{1 + number % 28:02d}", 72, 132),
        Run(f"Currency: {currency}", 72, 148),
        Run("Bill To: Example Retail Inc", 330, 100),
    ]
    per_page = -(-len(rows) // pages)
    result = []
    for page in range(pages):
        page_rows = rows[page * per_page : (page + 1) * per_page]
        page_runs = (
            runs if page == 0 else [Run(vendor, 72, 60, 16), Run(f"Page {page + 1} of {pages}", 72, 100)]
        )
        page_runs += docs.table_runs(
            ["Description", "Qty", "Unit Price", "Amount"], page_rows, [72, 300, 360, 460], 190
        )
        if page == pages - 1:
            y = 190 + 16 * (len(page_rows) + 2)
            page_runs += [
                Run(f"Subtotal: {_money(subtotal)}", 360, y),
                Run(f"Tax: {_money(tax)}", 360, y + 16),
                Run(f"Total: {_money(total)}", 360, y + 32),
            ]
        result.append(page_runs)
    return result


def statement_pages(number: int, pages: int = 2, *, rows_per_page: int = 6) -> list[list[Run]]:
    """A bank statement over ``pages`` pages whose transactions reconcile opening to closing."""
    opening = Decimal("1500.00") + number * 100
    balance = opening
    result: list[list[Run]] = []
    for page in range(pages):
        runs = [Run("First Harbour Bank", 72, 50, 16)]
        if page == 0:
            runs += [
                Run("Statement of Account", 72, 76, 12),
                Run(f"Account: 12-3456-{7000 + number:04d}", 72, 100),
                Run("Period: 2026-10-01 to 2026-10-31", 72, 116),
                Run("Currency: EUR", 72, 132),
                Run(f"Opening Balance: {_money(opening)}", 330, 100),
            ]
        rows = []
        for row in range(rows_per_page):
            index = page * rows_per_page + row
            amount = Decimal(12 + (index * 37 + number * 11) % 180) + Decimal("0.45")
            is_credit = index % 4 == 0
            balance = balance + amount if is_credit else balance - amount
            rows.append(
                [
                    f"2026-10-{1 + index % 28:02d}",
                    f"{'Transfer in' if is_credit else 'Card payment'} {1000 + index}",
                    "" if is_credit else _money(amount),
                    _money(amount) if is_credit else "",
                    _money(balance),
                ]
            )
        runs += docs.table_runs(
            ["Date", "Description", "Debit", "Credit", "Balance"], rows, [72, 150, 330, 400, 470], 170
        )
        if page == pages - 1:
            runs.append(Run(f"Closing Balance: {_money(balance)}", 330, 170 + 16 * (rows_per_page + 2)))
        result.append(runs)
    return result


@dataclass(frozen=True)
class Sample:
    """One file on the volume and what the pipeline should make of it."""

    key: str
    make: Callable[[], bytes]
    doc_type: str = ""
    mode: str = ""  # text-layer, sync, async
    needs_review: bool = False
    error: str = ""  # the typed error of a broken file


def plan() -> list[Sample]:
    """The demo's documents: every route, both types, a failed rule, and each broken variant."""
    return [
        Sample(
            "invoices/2026-11/INV-00001.pdf",
            lambda: docs.text_pdf([invoice_page(1)]),
            "invoice",
            "text-layer",
        ),
        Sample(
            "invoices/2026-11/INV-00002.pdf",
            lambda: docs.text_pdf([invoice_page(2, wrong_total=True)]),
            "invoice",
            "text-layer",
            needs_review=True,
        ),
        Sample(
            "invoices/2026-11/scans/INV-00003.jpg",
            lambda: docs.scan([invoice_page(3)], "JPEG"),
            "invoice",
            "sync",
        ),
        Sample(
            "invoices/2026-11/scans/INV-00004.png",
            lambda: docs.scan([invoice_page(4, bad_date=True)], "PNG"),
            "invoice",
            "sync",
            needs_review=True,
        ),
        Sample(
            "invoices/2026-11/scans/INV-00005.pdf",
            lambda: docs.image_pdf([invoice_page(5)]),
            "invoice",
            "sync",
        ),
        Sample(
            "invoices/2026-11/scans/INV-00006.tiff",
            lambda: docs.scan(invoice_pages(6, 2), "TIFF"),
            "invoice",
            "async",
        ),
        Sample(
            "statements/2026-10/acct-7001.pdf",
            lambda: docs.text_pdf(statement_pages(1)),
            "statement",
            "text-layer",
        ),
        Sample(
            "statements/2026-10/acct-7002-scan.pdf",
            lambda: docs.image_pdf(statement_pages(2, pages=3)),
            "statement",
            "async",
        ),
        Sample(
            "statements/2026-10/acct-7003-mixed.pdf",
            lambda: docs.mixed_pdf(statement_pages(3), [False, True]),
            "statement",
            "sync",
        ),
        Sample(
            "inbox/truncated.pdf",
            lambda: docs.truncated(docs.text_pdf([invoice_page(8)])),
            error="TruncatedDocumentError",
        ),
        Sample(
            "inbox/encrypted.pdf",
            lambda: docs.encrypted(docs.text_pdf([invoice_page(9)])),
            error="EncryptedDocumentError",
        ),
        Sample("inbox/empty.pdf", docs.zero_pages, error="EmptyDocumentError"),
        Sample("inbox/photo.pdf", lambda: docs.scan([invoice_page(10)], "PNG"), error="WrongExtensionError"),
    ]
