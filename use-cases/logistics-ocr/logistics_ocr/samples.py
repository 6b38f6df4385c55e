"""UC12's sample files: waybills, packing lists, label photos, inventory photos and broken files.

Every file is drawn with the shared document writers (``shared.formats.samples.documents``): a
text layer for born-digital PDFs, JPEG/PNG pictures and image-only PDFs carrying the record of the
text drawn into them (which the local Textract and Rekognition stand-ins read). Tracking numbers
are UPU S10 item ids whose check digit the generator computes (:func:`s10`), or breaks on purpose;
containers carry ISO 6346 numbers. :func:`plan` lists the demo's files and what the pipeline must
make of each: the document type, the reader, who extracted the record (rules or the model), the
failed findings, or the typed error of a broken file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from logistics_ocr.checkdigits import iso6346_check_digit, s10_check_digit
from shared.formats.samples import documents as docs
from shared.formats.samples.documents import Run

logger = logging.getLogger(__name__)

CARRIERS = ("Nordic Parcel Post", "Baltic Freight Lines", "Harbor Express")
PEOPLE = (
    ("Anna Lindqvist", "Storgatan 12, 111 22 Stockholm, SE"),
    ("Jonas Berg", "Kungsgatan 4, 411 19 Goteborg, SE"),
    ("Mette Holm", "Vesterbrogade 80, 1620 Kobenhavn, DK"),
    ("Piotr Nowak", "ul. Dluga 7, 80-831 Gdansk, PL"),
    ("Greta Maier", "Hafenstrasse 21, 20359 Hamburg, DE"),
)
GOODS = (
    ("Ceramic mugs (box of 6)", 2.4),
    ("Wool blanket", 1.8),
    ("Cast iron pan", 3.1),
    ("Linen tablecloth", 0.9),
    ("Oak cutting board", 1.6),
)


def s10(number: int, service: str = "RR", country: str = "SE", *, wrong: bool = False) -> str:
    """An S10 item id for serial ``number`` (its check digit computed, or off by one if ``wrong``)."""
    serial = f"{number:08d}"
    check = s10_check_digit(serial)
    return f"{service}{serial}{(check + 1) % 10 if wrong else check}{country}"


def container(serial: int, owner: str = "BFLU") -> str:
    first = f"{owner}{serial:06d}"
    return f"{first}{iso6346_check_digit(first)}"


def _items(number: int, count: int) -> list[tuple[str, int, float]]:
    return [
        (GOODS[(number + i) % len(GOODS)][0], 1 + (number + i) % 3, GOODS[(number + i) % len(GOODS)][1])
        for i in range(count)
    ]


def waybill_page(number: int, *, wrong_check: bool = False, with_container: bool = False) -> list[Run]:
    """A waybill: the parties, weight and pieces as labelled fields, and an items table."""
    shipper, consignee = PEOPLE[number % len(PEOPLE)], PEOPLE[(number + 2) % len(PEOPLE)]
    items = _items(number, 2 + number % 2)
    weight = round(sum(q * w for _, q, w in items), 2)
    runs = [
        Run("WAYBILL", 72, 50, 18),
        Run(f"Carrier: {CARRIERS[number % len(CARRIERS)]}", 72, 90),
        Run(f"Tracking No: {s10(40_000_000 + number * 7919, wrong=wrong_check)}", 72, 106),
        Run(f"Shipper: {shipper[0]}", 72, 130),
        Run(f"Shipper Address: {shipper[1]}", 72, 146),
        Run(f"Consignee: {consignee[0]}", 72, 170),
        Run(f"Consignee Address: {consignee[1]}", 72, 186),
        Run(f"Weight: {weight} kg", 72, 210),
        Run(f"Pieces: {sum(q for _, q, _ in items)}", 300, 210),
    ]
    if with_container:
        runs.append(Run(f"Container: {container(300_000 + number)}", 72, 226))
    runs += docs.table_runs(
        ["Description", "Qty", "Weight"],
        [[name, str(qty), f"{round(qty * w, 2)} kg"] for name, qty, w in items],
        [72, 330, 420],
        260,
    )
    return runs


def packing_list_page(number: int, *, pieces_off: bool = False) -> list[Run]:
    """A packing list: a table of items with quantities and weights, the totals below."""
    shipper, consignee = PEOPLE[(number + 1) % len(PEOPLE)], PEOPLE[(number + 3) % len(PEOPLE)]
    items = _items(number, 4)
    rows = [
        [f"SKU-{1000 + i}", name, str(qty), f"{round(qty * w, 2)} kg"]
        for i, (name, qty, w) in enumerate(items)
    ]
    pieces = sum(q for _, q, _ in items) + (1 if pieces_off else 0)
    weight = round(sum(q * w for _, q, w in items), 2)
    y = 190 + 16 * (len(rows) + 2)
    return [
        Run("PACKING LIST", 72, 50, 18),
        Run(f"Carrier: {CARRIERS[(number + 1) % len(CARRIERS)]}", 72, 90),
        Run(f"Tracking No: {s10(50_000_000 + number * 104_729, service='CP', country='DK')}", 72, 106),
        Run(f"Shipper: {shipper[0]}", 72, 122),
        Run(f"Consignee: {consignee[0]}", 300, 122),
        Run(f"Consignee Address: {consignee[1]}", 300, 138),
        *docs.table_runs(["Item", "Description", "Qty", "Weight"], rows, [72, 150, 360, 430], 190),
        Run(f"Total Pieces: {pieces}", 300, y),
        Run(f"Total Weight: {weight} kg", 300, y + 16),
    ]


def label_page(number: int, *, unitless: bool = False, wrong_check: bool = False) -> list[Run]:
    """A parcel label as photographed: carrier, tracking number, from and to, weight."""
    shipper, consignee = PEOPLE[(number + 4) % len(PEOPLE)], PEOPLE[number % len(PEOPLE)]
    weight = f"{1.2 + number / 10:.1f}" + ("" if unitless else " kg")
    return [
        Run(CARRIERS[number % len(CARRIERS)].upper(), 60, 40, 20),
        Run(f"Carrier: {CARRIERS[number % len(CARRIERS)]}", 60, 80, 14),
        Run(
            f"Tracking No: {s10(60_000_000 + number * 31, service='LX', country='DE', wrong=wrong_check)}",
            60,
            104,
            14,
        ),
        Run(f"From: {shipper[0]}", 60, 140, 12),
        Run(f"From Address: {shipper[1]}", 60, 158, 12),
        Run(f"To: {consignee[0]}", 60, 190, 14),
        Run(f"To Address: {consignee[1]}", 60, 210, 14),
        Run(f"Weight: {weight}", 60, 240, 14),
    ]


def inventory_page(location: int, labels: int, *, wrong_one: bool = False) -> list[Run]:
    """A shelf photo: ``labels`` parcel labels, each with its item id (one wrong if ``wrong_one``)."""
    runs = []
    for i in range(labels):
        x, y = 40 + (i % 3) * 190, 60 + (i // 3) * 120
        runs.append(Run("Item ID:", x, y, 10))
        runs.append(
            Run(s10(70_000_000 + location * 1000 + i, "CX", "NL", wrong=wrong_one and i == 0), x, y + 14, 12)
        )
    return runs


def bill_of_lading_page(number: int, marker: str = "") -> list[Run]:
    """A document of no layout the rules know (labels such as "Shipper name"): the model reads it."""
    shipper, consignee = PEOPLE[(number + 1) % len(PEOPLE)], PEOPLE[(number + 2) % len(PEOPLE)]
    runs = [
        Run("BILL OF LADING", 72, 50, 18),
        Run(f"Carrier: {CARRIERS[1]}", 72, 90),
        Run(f"Tracking number: {s10(80_000_000 + number, 'EE', 'PL')}", 72, 106),
        Run(f"Shipper name: {shipper[0]}", 72, 130),
        Run(f"Shipper address: {shipper[1]}", 72, 146),
        Run(f"Consignee name: {consignee[0]}", 72, 170),
        Run(f"Consignee address: {consignee[1]}", 72, 186),
        Run("Weight value: 640", 72, 210),
        Run("Weight unit: kg", 200, 210),
        Run("Pieces: 12", 300, 210),
        Run(f"Container number: {container(400_000 + number)}", 72, 226),
    ]
    if marker:
        runs.append(Run(marker, 72, 700, 8))
    return runs


@dataclass(frozen=True)
class Sample:
    """One file on the volume and what the pipeline should make of it."""

    key: str
    make: Callable[[], bytes]
    doc_type: str = ""
    reader: str = ""  # text-layer, textract, rekognition
    extracted_by: str = ""  # rules, model (inventory photos: "")
    failed: tuple[str, ...] = ()  # the findings that must FAIL
    error: str = ""  # the typed error of a broken file (or of the model's answer)
    labels: int = 0  # inventory photos: labels in the picture
    location: str = ""
    names: tuple[str, ...] = field(default_factory=tuple)  # PII drawn into the file


def _names(*people: int) -> tuple[str, ...]:
    return tuple(v for p in people for v in PEOPLE[p % len(PEOPLE)])


def plan() -> list[Sample]:
    """The demo's files: every reader, both extractors, each finding failing once, broken files."""
    return [
        Sample(
            "waybills/2026-11/WB-0001.pdf",
            lambda: docs.text_pdf([waybill_page(1)]),
            "waybill",
            "text-layer",
            "rules",
            names=_names(1, 3),
        ),
        Sample(
            "waybills/2026-11/WB-0002.pdf",
            lambda: docs.text_pdf([waybill_page(2, wrong_check=True, with_container=True)]),
            "waybill",
            "text-layer",
            "rules",
            ("s10_check_digit",),
            names=_names(2, 4),
        ),
        Sample(
            "waybills/2026-11/scans/WB-0003.pdf",
            lambda: docs.image_pdf([waybill_page(3)]),
            "waybill",
            "textract",
            "rules",
            names=_names(3, 0),
        ),
        Sample(
            "packing/2026-11/PL-0001.pdf",
            lambda: docs.text_pdf([packing_list_page(1)]),
            "packing_list",
            "text-layer",
            "rules",
        ),
        Sample(
            "packing/2026-11/PL-0002-scan.pdf",
            lambda: docs.image_pdf([packing_list_page(2, pieces_off=True)]),
            "packing_list",
            "textract",
            "rules",
            ("pieces_match_items",),
        ),
        Sample(
            "labels/IMG_0001.JPG",
            lambda: docs.scan([label_page(1)], "JPEG"),
            "label",
            "rekognition",
            "rules",
            names=_names(0, 1),
        ),
        Sample(
            "images/dock-3/label-0002.png",
            lambda: docs.scan([label_page(2, unitless=True)], "PNG"),
            "label",
            "rekognition",
            "rules",
            ("weight_has_unit",),
        ),
        Sample(
            "scans/raw/label-0003.jpeg",
            lambda: docs.scan([label_page(3, wrong_check=True)], "JPEG"),
            "label",
            "rekognition",
            "rules",
            ("s10_check_digit",),
        ),
        Sample(
            "inbound/BOL-0001.pdf",
            lambda: docs.text_pdf([bill_of_lading_page(1)]),
            "shipping_document",
            "text-layer",
            "model",
        ),
        Sample(
            "inbound/BOL-0002-retry.pdf",
            lambda: docs.text_pdf([bill_of_lading_page(2, "[stand-in: invalid-json-once]")]),
            "shipping_document",
            "text-layer",
            "model",
        ),
        Sample(
            "inbound/BOL-0003-garbled.pdf",
            lambda: docs.text_pdf([bill_of_lading_page(3, "[stand-in: invalid-json]")]),
            error="ExtractionError",
        ),
        Sample(
            "inventory/dc-east/aisle-01/bay-02/IMG_0101.jpg",
            lambda: docs.scan([inventory_page(1, 5)], "JPEG"),
            "inventory_photo",
            "rekognition",
            labels=5,
            location="dc-east/aisle-01/bay-02",
        ),
        Sample(
            "inventory/dc-east/aisle-01/bay-02/IMG_0102.jpg",
            lambda: docs.scan([inventory_page(2, 3)], "JPEG"),
            "inventory_photo",
            "rekognition",
            labels=3,
            location="dc-east/aisle-01/bay-02",
        ),
        Sample(
            "inventory/dc-east/aisle-04/bay-01/IMG_0103.png",
            lambda: docs.scan([inventory_page(3, 4, wrong_one=True)], "PNG"),
            "inventory_photo",
            "rekognition",
            failed=("s10_check_digit",),
            labels=4,
            location="dc-east/aisle-04/bay-01",
        ),
        Sample(
            "waybills/broken/WB-cut.pdf",
            lambda: docs.truncated(docs.text_pdf([waybill_page(5)])),
            error="TruncatedDocumentError",
        ),
        Sample(
            "waybills/broken/WB-locked.pdf",
            lambda: docs.encrypted(docs.text_pdf([waybill_page(6)])),
            error="EncryptedDocumentError",
        ),
        Sample(
            "labels/broken/label-cut.jpg",
            lambda: docs.truncated(docs.scan([label_page(7)], "JPEG"), 0.3),
            error="TruncatedDocumentError",
        ),
        Sample(
            "labels/broken/label-0008.png",
            lambda: docs.scan([label_page(8)], "JPEG"),
            error="WrongExtensionError",
        ),
    ]
