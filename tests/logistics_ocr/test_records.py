"""The record rules, the model answer's mapping, classification and findings, without AWS."""

from __future__ import annotations

import pytest

from logistics_ocr import samples
from logistics_ocr.records import (
    FAIL,
    INVENTORY,
    LABEL,
    PACKING_LIST,
    SHIPPING_DOCUMENT,
    WAYBILL,
    Item,
    ShipmentRecord,
    classify,
    findings,
    inventory_location,
    key_values_of_lines,
    parse_weight,
    record_from_model,
    rule_record,
    shipment_schema,
)


@pytest.mark.parametrize(
    ("text", "key", "image", "expected"),
    [
        ("PACKING LIST\n...", "a/b.pdf", False, PACKING_LIST),
        ("WAYBILL\nCarrier: x", "a/b.pdf", False, WAYBILL),
        ("BILL OF LADING", "a/b.pdf", False, SHIPPING_DOCUMENT),
        ("NORDIC PARCEL POST", "scans/raw/x.jpg", True, LABEL),
        ("Item ID:", "site/Inventory/aisle-1/x.jpg", True, INVENTORY),
        ("WAYBILL", "inventory/aisle-1/x.pdf", False, WAYBILL),  # a PDF is never an inventory photo
    ],
)
def test_classification_never_drops_a_file(text: str, key: str, image: bool, expected: str) -> None:
    assert classify(text, key, image)[0] == expected


def test_the_location_is_the_folders_after_inventory() -> None:
    assert inventory_location("inventory/dc-east/aisle-01/bay-02/IMG.jpg") == "dc-east/aisle-01/bay-02"
    assert inventory_location("site-7/Inventory/a3/IMG.jpg") == "a3"
    assert inventory_location("inventory/IMG.jpg") == "(unknown)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5 kg", (12.5, "kg")),
        ("3,2 KGS", (3.2, "kg")),
        ("7 lbs", (7.0, "lb")),
        ("1.4", (1.4, None)),
        ("", (None, None)),
    ],
)
def test_weights_keep_their_unit_or_say_it_is_missing(
    text: str, expected: tuple[float | None, str | None]
) -> None:
    assert parse_weight(text) == expected


def test_label_lines_become_a_record_with_a_wrong_check_digit_reported() -> None:
    lines = [run.text for run in samples.label_page(3, wrong_check=True)]
    record = rule_record(key_values_of_lines(lines))
    assert record.missing() == []
    assert (record.shipper.name, record.consignee.name) == (samples.PEOPLE[2][0], samples.PEOPLE[3][0])
    failed = [f for f in findings(record) if f.status == FAIL]
    assert [f.rule for f in failed] == ["s10_check_digit"]
    assert "the serial gives" in failed[0].detail


def test_findings_for_pieces_weight_and_container() -> None:
    record = ShipmentRecord(
        tracking_number="NPX-2026-0042",
        tracking_scheme="carrier",
        weight_value=10.0,
        weight_unit="lb",
        pieces=3,
        container_number="CSQU3054384",
        items=[Item("a", 1, 2.0), Item("b", 1, 2.5)],
    )
    status = {f.rule: f.status for f in findings(record)}
    assert status == {
        "s10_check_digit": "N/A",
        "iso6346_check_digit": "FAIL",
        "weight_has_unit": "PASS",
        "pieces_match_items": "FAIL",
        "weight_matches_items": "FAIL",  # 10 lb is 4.536 kg, the items 4.5 kg
    }
    assert record.weight_kg == pytest.approx(4.536)


def test_a_model_answer_validated_against_the_schema_becomes_the_same_record() -> None:
    answer = {
        "tracking_number": "EE800000016PL",
        "carrier": "Baltic Freight Lines",
        "shipper_name": "Mette Holm",
        "shipper_address": None,
        "consignee_name": "Piotr Nowak",
        "weight_value": 640,
        "weight_unit": "kg",
        "pieces": 12,
        "container_number": "bflu 400001 0",
        "items": [{"description": "Pallets", "quantity": 12}],
    }
    assert shipment_schema().errors(answer) == []
    record = record_from_model(answer)
    assert (record.tracking_scheme, record.container_number, record.weight_kg) == (
        "upu-s10",
        "BFLU4000010",
        640.0,
    )
    assert shipment_schema().errors(
        {**answer, "tracking_number": "tracking_number"}
    )  # the pattern refuses a name
    assert shipment_schema().errors({**answer, "weight_unit": "stone"})
