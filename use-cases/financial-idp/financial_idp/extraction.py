"""Invoice and statement fields from the block model, and the named validation rules.

An invoice (:func:`invoice_fields`) reads AnalyzeExpense's summary fields (vendor, invoice number,
dates, currency, subtotal, tax, total) and line items; a statement (:func:`statement_fields`)
reads its form fields (account, period, opening and closing balance, currency) and the rows of its
transaction tables. Amounts are parsed as :class:`~decimal.Decimal`, never floats.

Each rule is a named finding, ``PASS``, ``FAIL`` or ``NOT_APPLICABLE`` with its detail:
``line_items_sum_to_subtotal``, ``subtotal_plus_tax_equals_total``, ``dates_parse``,
``currency_present`` (both types), ``required_fields_present`` and, for statements,
``transactions_reconcile`` (opening + credits - debits = closing). A document with a failed rule
is ``needs_review``; nothing is silently corrected.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.documents.layout import currency_of
from shared.documents.model import ExpenseDocument, ExpenseField, ParsedDocument

logger = logging.getLogger(__name__)

INVOICE = "invoice"
STATEMENT = "statement"
DOCUMENT_TYPES = (INVOICE, STATEMENT)
PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "NOT_APPLICABLE"
TOLERANCE = Decimal("0.01")
DATE_FORMATS = (
    "%Y-%m-%d",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%Y/%m/%d",
)
_NUMBER = re.compile(r"-?\(?[\d,]*\d(?:\.\d+)?\)?")


@dataclass(frozen=True)
class Finding:
    rule: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "status": self.status, "detail": self.detail}


def parse_amount(text: str | None) -> Decimal | None:
    """``"$1,234.50"``, ``"USD 12.00"``, ``"(5.00)"`` -> Decimal; None when there is no number."""
    if not text:
        return None
    match = _NUMBER.search(text.replace(" ", ""))
    if not match:
        return None
    raw = match.group(0)
    negative = (raw.startswith("(") and raw.endswith(")")) or raw.startswith("-")
    try:
        value = Decimal(raw.strip("()-").replace(",", ""))
    except InvalidOperation:
        return None
    return -value if negative else value


def parse_date(text: str | None) -> date | None:
    if not text:
        return None
    cleaned = text.strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(TOLERANCE))


def _best(expenses: tuple[ExpenseDocument, ...], field_type: str) -> ExpenseField | None:
    found = [f for e in expenses for f in e.summary if f.type == field_type and f.value.strip()]
    return max(found, key=lambda f: f.confidence) if found else None


def classify(key: str, document_text: str = "") -> tuple[str, str]:
    """``(type, why)``: the text when there is one, else the key (a ``statement`` path or name)."""
    lowered = document_text.lower()
    if lowered:
        if "statement" in lowered and ("account" in lowered or "balance" in lowered):
            return STATEMENT, "the text names a statement with an account or balance"
        if "invoice" in lowered:
            return INVOICE, "the text names an invoice"
    if "statement" in key.lower():
        return STATEMENT, "the key names a statement"
    return INVOICE, "default: an invoice (the key names no statement)"


def _date_finding(named: dict[str, str | None]) -> Finding:
    present = {k: v for k, v in named.items() if v}
    if not present:
        return Finding("dates_parse", FAIL, "no date found")
    bad = [k for k, v in present.items() if parse_date(v) is None]
    if bad:
        return Finding("dates_parse", FAIL, f"unparseable: {', '.join(bad)}")
    return Finding("dates_parse", PASS, f"{len(present)} date(s) parse")


def _currency_finding(currency: str | None) -> Finding:
    if currency:
        return Finding("currency_present", PASS, currency)
    return Finding("currency_present", FAIL, "no currency code or sign on the document")


def invoice_fields(document: ParsedDocument) -> tuple[dict[str, Any], list[Finding]]:
    """The invoice's fields and its findings, from ``document.expenses``."""
    expenses = document.expenses

    def text(kind: str) -> str | None:
        found = _best(expenses, kind)
        return found.value.strip() if found else None

    def confidence(kind: str) -> float | None:
        found = _best(expenses, kind)
        return round(found.confidence, 2) if found else None

    amounts = {k: _best(expenses, k) for k in ("SUBTOTAL", "TAX", "TOTAL", "AMOUNT_DUE")}
    currency = next((f.currency for f in amounts.values() if f is not None and f.currency), None)
    currency = currency or (text("CURRENCY") or "").upper() or currency_of(document.text()) or None
    items = []
    for expense in expenses:
        for item in expense.line_items:
            price = item.get("PRICE")
            quantity, unit = item.get("QUANTITY"), item.get("UNIT_PRICE")
            description = item.get("ITEM")
            items.append(
                {
                    "description": description.value if description else None,
                    "quantity": _money(parse_amount(quantity.value)) if quantity else None,
                    "unit_price": _money(parse_amount(unit.value)) if unit else None,
                    "amount": _money(parse_amount(price.value)) if price else None,
                    "page": item.page,
                }
            )
    subtotal = parse_amount(amounts["SUBTOTAL"].value) if amounts["SUBTOTAL"] else None
    tax = parse_amount(amounts["TAX"].value) if amounts["TAX"] else None
    total_field = amounts["TOTAL"] or amounts["AMOUNT_DUE"]
    total = parse_amount(total_field.value) if total_field else None
    fields: dict[str, Any] = {
        "vendor": text("VENDOR_NAME"),
        "invoice_number": text("INVOICE_RECEIPT_ID"),
        "invoice_date": text("INVOICE_RECEIPT_DATE"),
        "due_date": text("DUE_DATE"),
        "currency": currency,
        "subtotal": _money(subtotal),
        "tax": _money(tax),
        "total": _money(total),
        "line_items": items,
        "confidence": {k: confidence(k) for k in ("VENDOR_NAME", "INVOICE_RECEIPT_ID", "TOTAL")},
    }
    findings: list[Finding] = []
    amounts_listed = [parse_amount(str(i["amount"]) if i["amount"] is not None else None) for i in items]
    if not items or subtotal is None:
        findings.append(Finding("line_items_sum_to_subtotal", NOT_APPLICABLE, "no line items or no subtotal"))
    elif any(a is None for a in amounts_listed):
        findings.append(Finding("line_items_sum_to_subtotal", FAIL, "a line item has no amount"))
    else:
        summed = sum((a for a in amounts_listed if a is not None), Decimal(0))
        ok = abs(summed - subtotal) <= TOLERANCE
        findings.append(
            Finding(
                "line_items_sum_to_subtotal",
                PASS if ok else FAIL,
                f"items {_money(summed)} vs subtotal {_money(subtotal)}",
            )
        )
    if subtotal is None or total is None:
        findings.append(Finding("subtotal_plus_tax_equals_total", NOT_APPLICABLE, "no subtotal or no total"))
    else:
        expected = subtotal + (tax or Decimal(0))
        ok = abs(expected - total) <= TOLERANCE
        findings.append(
            Finding(
                "subtotal_plus_tax_equals_total",
                PASS if ok else FAIL,
                f"{_money(subtotal)} + {_money(tax or Decimal(0))} = {_money(expected)} "
                f"vs total {_money(total)}",
            )
        )
    findings.append(_date_finding({"invoice_date": fields["invoice_date"], "due_date": fields["due_date"]}))
    findings.append(_currency_finding(currency))
    missing = [k for k in ("vendor", "invoice_number", "total") if not fields[k]]
    findings.append(
        Finding(
            "required_fields_present",
            FAIL if missing else PASS,
            f"missing: {', '.join(missing)}" if missing else "vendor, number, total",
        )
    )
    return fields, findings


_PERIOD = re.compile(r"(?P<start>.+?)\s+(?:to|-|\u2013|until)\s+(?P<end>.+)$")
_DATE_HEADERS = ("date", "posted", "booking date", "value date")


def _column(record: dict[str, str], *names: str) -> str | None:
    for header, value in record.items():
        if " ".join(header.lower().split()) in names:
            return value
    return None


def statement_fields(document: ParsedDocument) -> tuple[dict[str, Any], list[Finding]]:
    """The statement's account, period, balances and transactions, and its findings."""

    def value(*keys: str) -> str | None:
        for key in keys:
            found = document.value(key)
            if found:
                return found.strip()
        return None

    account = value("Account", "Account Number", "Account No", "IBAN")
    period = value("Period", "Statement Period")
    start = end = None
    if period:
        match = _PERIOD.match(period)
        if match:
            start, end = match.group("start").strip(), match.group("end").strip()
    opening = parse_amount(value("Opening Balance", "Previous Balance"))
    closing = parse_amount(value("Closing Balance", "New Balance"))
    currency = (value("Currency") or "").upper() or currency_of(document.text()) or None
    transactions = []
    for table in document.tables:
        for record in table.records():
            when = _column(record, *_DATE_HEADERS)
            if when is None:
                continue
            debit = parse_amount(_column(record, "debit", "withdrawal", "withdrawals", "paid out"))
            credit = parse_amount(_column(record, "credit", "deposit", "deposits", "paid in"))
            amount = parse_amount(_column(record, "amount"))
            if amount is not None and debit is None and credit is None:
                debit, credit = (-amount, None) if amount < 0 else (None, amount)
            transactions.append(
                {
                    "date": when,
                    "description": _column(record, "description", "details", "narrative"),
                    "debit": _money(debit),
                    "credit": _money(credit),
                    "balance": _money(parse_amount(_column(record, "balance"))),
                    "page": table.page,
                }
            )
    fields: dict[str, Any] = {
        "account": account,
        "period_start": start,
        "period_end": end,
        "opening_balance": _money(opening),
        "closing_balance": _money(closing),
        "currency": currency,
        "transactions": transactions,
    }
    findings: list[Finding] = []
    if opening is None or closing is None or not transactions:
        findings.append(Finding("transactions_reconcile", NOT_APPLICABLE, "no balances or no transactions"))
    else:
        debits = sum((parse_amount(str(t["debit"] or "")) or Decimal(0) for t in transactions), Decimal(0))
        credits = sum((parse_amount(str(t["credit"] or "")) or Decimal(0) for t in transactions), Decimal(0))
        expected = opening + credits - debits
        ok = abs(expected - closing) <= TOLERANCE
        findings.append(
            Finding(
                "transactions_reconcile",
                PASS if ok else FAIL,
                f"{_money(opening)} + {_money(credits)} - {_money(debits)} = {_money(expected)} "
                f"vs closing {_money(closing)}",
            )
        )
    dates = {"period_start": start, "period_end": end}
    dates.update({f"transaction {i + 1}": t["date"] for i, t in enumerate(transactions)})
    if period and not (start and end):
        dates["period"] = period if parse_date(period) else "unparseable period"
    findings.append(_date_finding(dates))
    findings.append(_currency_finding(currency))
    missing = [k for k in ("account", "period_start") if not fields[k]]
    findings.append(
        Finding(
            "required_fields_present",
            FAIL if missing else PASS,
            f"missing: {', '.join(missing)}" if missing else "account, period",
        )
    )
    return fields, findings


def needs_review(findings: list[Finding]) -> bool:
    return any(f.status == FAIL for f in findings)


def masked(account: str | None) -> str | None:
    """An account number with all but its last four characters hidden (for logs' neighbours: datasets)."""
    if not account:
        return None
    tail = re.sub(r"\W", "", account)[-4:]
    return f"****{tail}"
