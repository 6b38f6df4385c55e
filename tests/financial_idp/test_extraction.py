"""Invoice and statement fields, and each named validation rule, from block models built by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from financial_idp.extraction import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    STATEMENT,
    classify,
    invoice_fields,
    masked,
    parse_amount,
    parse_date,
    statement_fields,
)
from shared.documents.model import (
    Cell,
    ExpenseDocument,
    ExpenseField,
    KeyValue,
    LineItem,
    ParsedDocument,
    Table,
)


def _field(kind: str, value: str, currency: str | None = None) -> ExpenseField:
    return ExpenseField(kind, value, 95.0, 1, kind.title(), currency)


def _invoice(total: str = "121.00", date: str = "2026-11-02", currency: str | None = "USD") -> ParsedDocument:
    items = tuple(
        LineItem((_field("ITEM", name), _field("PRICE", price)), 1)
        for name, price in (("A", "60.00"), ("B", "50.00"))
    )
    summary = (
        _field("VENDOR_NAME", "Acme"),
        _field("INVOICE_RECEIPT_ID", "INV-1"),
        _field("INVOICE_RECEIPT_DATE", date),
        _field("SUBTOTAL", "110.00", currency),
        _field("TAX", "11.00", currency),
        _field("TOTAL", total, currency),
    )
    return ParsedDocument("textract", 1, expenses=(ExpenseDocument(1, summary, items),))


def _rules(findings: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {f.rule: f.status for f in findings}


def test_a_consistent_invoice_passes_every_rule() -> None:
    fields, findings = invoice_fields(_invoice())
    assert (fields["vendor"], fields["invoice_number"], fields["total"], fields["currency"]) == (
        "Acme",
        "INV-1",
        "121.00",
        "USD",
    )
    assert set(_rules(findings).values()) == {PASS}


@pytest.mark.parametrize(
    ("document", "rule"),
    [
        (_invoice(total="131.00"), "subtotal_plus_tax_equals_total"),
        (_invoice(date="31/31/2026"), "dates_parse"),
        (_invoice(currency=None), "currency_present"),
    ],
)
def test_each_broken_rule_is_a_named_failure(document: ParsedDocument, rule: str) -> None:
    _, findings = invoice_fields(document)
    assert _rules(findings)[rule] == FAIL
    assert [f.rule for f in findings if f.status == FAIL] == [rule]


def test_line_items_that_do_not_add_up_fail_and_no_items_is_not_applicable() -> None:
    document = _invoice()
    expense = document.expenses[0]
    short = ExpenseDocument(1, expense.summary, expense.line_items[:1])
    _, findings = invoice_fields(ParsedDocument("textract", 1, expenses=(short,)))
    assert _rules(findings)["line_items_sum_to_subtotal"] == FAIL
    empty = ExpenseDocument(1, expense.summary, ())
    _, findings = invoice_fields(ParsedDocument("textract", 1, expenses=(empty,)))
    assert _rules(findings)["line_items_sum_to_subtotal"] == NOT_APPLICABLE


def test_statement_fields_and_reconciliation() -> None:
    header = ("Date", "Description", "Debit", "Credit", "Balance")
    rows = [
        header,
        ("2026-10-02", "Card", "40.00", "", "960.00"),
        ("2026-10-03", "Salary", "", "500.00", "1460.00"),
    ]
    cells = tuple(
        Cell(r + 1, c + 1, text, 99.0, 1) for r, row in enumerate(rows) for c, text in enumerate(row)
    )
    kvs = tuple(
        KeyValue(k, v, 99.0, 1)
        for k, v in (
            ("Account", "12-3456-7001"),
            ("Period", "2026-10-01 to 2026-10-31"),
            ("Opening Balance", "1,000.00"),
            ("Closing Balance", "1,460.00"),
            ("Currency", "EUR"),
        )
    )
    fields, findings = statement_fields(
        ParsedDocument("text-layer", 1, key_values=kvs, tables=(Table(1, 99.0, cells),))
    )
    assert (fields["period_start"], fields["period_end"], len(fields["transactions"])) == (
        "2026-10-01",
        "2026-10-31",
        2,
    )
    assert _rules(findings)["transactions_reconcile"] == PASS
    wrong = tuple(kv if kv.key != "Closing Balance" else KeyValue(kv.key, "1,470.00", 99.0, 1) for kv in kvs)
    _, findings = statement_fields(
        ParsedDocument("text-layer", 1, key_values=wrong, tables=(Table(1, 99.0, cells),))
    )
    assert _rules(findings)["transactions_reconcile"] == FAIL


def test_amounts_dates_classification_and_masking() -> None:
    assert parse_amount("$1,234.50") == Decimal("1234.50")
    assert parse_amount("(5.00)") == Decimal("-5.00")
    assert parse_amount("n/a") is None
    assert parse_date("Nov 2, 2026") is not None and parse_date("31/31/2026") is None
    assert classify("inbox/scan-0001.pdf", "Statement of Account ... Balance")[0] == STATEMENT
    assert classify("statements/october.tiff")[0] == STATEMENT
    assert classify("inbox/any.jpg")[0] == "invoice"
    assert masked("12-3456-7001") == "****7001"
