"""Textract answers, written by hand in the documented shape, into the block model."""

from __future__ import annotations

import pytest

from shared.documents.blocks import BlockModelError, parse_blocks, parse_expense


def _word(block_id: str, text: str, page: int = 1) -> dict:  # type: ignore[type-arg]
    return {"BlockType": "WORD", "Id": block_id, "Text": text, "Confidence": 99.0, "Page": page}


ANALYSIS = [
    {"BlockType": "PAGE", "Id": "p1", "Page": 1},
    {
        "BlockType": "LINE",
        "Id": "l1",
        "Text": "Account: 12-34",
        "Confidence": 98.5,
        "Page": 1,
        "Geometry": {"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.3, "Height": 0.02}},
        "Relationships": [{"Type": "CHILD", "Ids": ["w1", "w2"]}],
    },
    _word("w1", "Account:"),
    _word("w2", "12-34"),
    {
        "BlockType": "KEY_VALUE_SET",
        "Id": "k1",
        "EntityTypes": ["KEY"],
        "Confidence": 91.0,
        "Page": 1,
        "Relationships": [{"Type": "VALUE", "Ids": ["v1"]}, {"Type": "CHILD", "Ids": ["w1"]}],
    },
    {
        "BlockType": "KEY_VALUE_SET",
        "Id": "v1",
        "EntityTypes": ["VALUE"],
        "Confidence": 88.0,
        "Page": 1,
        "Relationships": [{"Type": "CHILD", "Ids": ["w2"]}],
    },
    {
        "BlockType": "KEY_VALUE_SET",
        "Id": "k2",
        "EntityTypes": ["KEY"],
        "Confidence": 90.0,
        "Page": 1,
        "Relationships": [{"Type": "VALUE", "Ids": ["v2"]}, {"Type": "CHILD", "Ids": ["w3"]}],
    },
    _word("w3", "Paid"),
    {
        "BlockType": "KEY_VALUE_SET",
        "Id": "v2",
        "EntityTypes": ["VALUE"],
        "Confidence": 90.0,
        "Page": 1,
        "Relationships": [{"Type": "CHILD", "Ids": ["s1"]}],
    },
    {
        "BlockType": "SELECTION_ELEMENT",
        "Id": "s1",
        "SelectionStatus": "SELECTED",
        "Confidence": 97.0,
        "Page": 1,
    },
    {
        "BlockType": "TABLE",
        "Id": "t1",
        "Confidence": 95.0,
        "Page": 2,
        "Relationships": [{"Type": "CHILD", "Ids": ["c1", "c2", "c3", "c4"]}],
    },
    {
        "BlockType": "CELL",
        "Id": "c1",
        "RowIndex": 1,
        "ColumnIndex": 1,
        "Confidence": 95.0,
        "Page": 2,
        "Relationships": [{"Type": "CHILD", "Ids": ["w4"]}],
    },
    {
        "BlockType": "CELL",
        "Id": "c2",
        "RowIndex": 1,
        "ColumnIndex": 2,
        "Confidence": 95.0,
        "Page": 2,
        "Relationships": [{"Type": "CHILD", "Ids": ["w5"]}],
    },
    {
        "BlockType": "CELL",
        "Id": "c3",
        "RowIndex": 2,
        "ColumnIndex": 1,
        "Confidence": 93.0,
        "Page": 2,
        "Relationships": [{"Type": "CHILD", "Ids": ["w6"]}],
    },
    {"BlockType": "CELL", "Id": "c4", "RowIndex": 2, "ColumnIndex": 2, "Confidence": 93.0, "Page": 2},
    _word("w4", "Date", 2),
    _word("w5", "Amount", 2),
    _word("w6", "2026-10-03", 2),
]


def test_lines_key_values_selection_and_tables() -> None:
    document = parse_blocks(ANALYSIS)
    assert [line.text for line in document.lines] == ["Account: 12-34"]
    assert document.lines[0].box is not None and document.lines[0].box.left == 0.1
    assert document.value("account") == "12-34"
    assert document.key_values[0].confidence == 88.0
    assert document.value("Paid") == "[X]"
    table = document.tables[0]
    assert (table.page, table.rows()) == (2, [["Date", "Amount"], ["2026-10-03", ""]])
    assert document.pages == (1, 2)


def test_page_offset_puts_a_split_page_back_in_place() -> None:
    assert parse_blocks(ANALYSIS, page_offset=4).tables[0].page == 6


def test_a_dangling_relationship_is_an_error_not_lost_text() -> None:
    broken = [b for b in ANALYSIS if b.get("Id") != "w6"]
    with pytest.raises(BlockModelError, match="refers to missing block w6"):
        parse_blocks(broken)


def test_expense_summary_and_line_items() -> None:
    raw = [
        {
            "ExpenseIndex": 1,
            "SummaryFields": [
                {
                    "Type": {"Text": "TOTAL", "Confidence": 99.0},
                    "LabelDetection": {"Text": "Total", "Confidence": 97.0},
                    "ValueDetection": {"Text": "115.50", "Confidence": 96.0},
                    "PageNumber": 1,
                    "Currency": {"Code": "USD", "Confidence": 90.0},
                },
                {
                    "Type": {"Text": "VENDOR_NAME", "Confidence": 92.0},
                    "ValueDetection": {"Text": "Acme", "Confidence": 91.0},
                    "PageNumber": 1,
                },
            ],
            "LineItemGroups": [
                {
                    "LineItemGroupIndex": 1,
                    "LineItems": [
                        {
                            "LineItemExpenseFields": [
                                {
                                    "Type": {"Text": "ITEM", "Confidence": 90.0},
                                    "ValueDetection": {"Text": "Toner", "Confidence": 89.0},
                                    "PageNumber": 2,
                                },
                                {
                                    "Type": {"Text": "PRICE", "Confidence": 90.0},
                                    "ValueDetection": {"Text": "60.00", "Confidence": 88.0},
                                    "PageNumber": 2,
                                },
                            ]
                        }
                    ],
                }
            ],
        }
    ]
    (expense,) = parse_expense(raw)
    total = expense.get("TOTAL")
    assert total is not None and (total.value, total.currency, total.confidence, total.label) == (
        "115.50",
        "USD",
        96.0,
        "Total",
    )
    assert expense.line_items[0].page == 2
    assert expense.line_items[0].get("PRICE").value == "60.00"  # type: ignore[union-attr]
