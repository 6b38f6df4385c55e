"""Pages shared by the document-core tests."""

from __future__ import annotations

from shared.formats.samples.documents import Run, table_runs


def invoice_page() -> list[Run]:
    runs = [
        Run("Acme Supplies Ltd", 72, 60, 16),
        Run("Invoice No: INV-1001", 72, 100),
        Run("Invoice Date: 2026-11-02", 72, 116),
        Run("Currency: USD", 72, 132),
    ]
    runs += table_runs(
        ["Description", "Qty", "Unit Price", "Amount"],
        [["Paper A4", "10", "4.50", "45.00"], ["Toner", "2", "30.00", "60.00"]],
        [72, 300, 360, 460],
        180,
    )
    runs += [Run("Subtotal: 105.00", 360, 260), Run("Tax: 10.50", 360, 276), Run("Total: 115.50", 360, 292)]
    return runs
