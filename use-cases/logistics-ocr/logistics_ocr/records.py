"""The shipment record: what a waybill, packing list or label says, typed, with named findings.

:func:`rule_record` reads a record from a document's key-value pairs (Textract FORMS, the layout of
a text layer, or ``Label: value`` lines of a Rekognition DetectText answer) through a fixed table of
labels (:data:`LABELS`), and its items from the first table whose header names a description and a
quantity. When the labels leave a required field (:data:`REQUIRED`) empty, the caller asks Bedrock
Converse for the record as JSON following :data:`SHIPMENT` (the language core validates it and
retries once; a second invalid answer is a FAILED result) and turns the answer into the same
record with :func:`record_from_model`.

:func:`findings` then checks the record, each check a named finding with ``PASS``, ``FAIL`` or
``N/A``: the tracking number's check digit where its format defines one (UPU S10), a container
number's (ISO 6346), that the weight has a unit, and that the pieces agree with the items. A wrong
check digit is a ``FAIL`` and the record needs review; it is never corrected or dropped.

Names and addresses are personal data: nothing here logs a value, only field names and counts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from logistics_ocr.checkdigits import S10, iso6346_identifier, s10_identifier
from shared.documents.model import ParsedDocument, Table

logger = logging.getLogger(__name__)

WAYBILL = "waybill"
PACKING_LIST = "packing_list"
LABEL = "label"
SHIPPING_DOCUMENT = "shipping_document"  # a document of no known layout: the model reads it
INVENTORY = "inventory_photo"
DOC_TYPES = (WAYBILL, PACKING_LIST, LABEL, SHIPPING_DOCUMENT, INVENTORY)

PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "N/A"
UNITS = {"kg": "kg", "kgs": "kg", "kilograms": "kg", "lb": "lb", "lbs": "lb", "pounds": "lb", "g": "g"}
TO_KG = {"kg": 1.0, "lb": 0.45359237, "g": 0.001}

# Field -> the labels (lower case, no colon) the rules read it from.
LABELS: dict[str, tuple[str, ...]] = {
    "tracking_number": ("tracking no", "tracking number", "tracking", "awb no", "waybill no", "item id"),
    "carrier": ("carrier",),
    "shipper_name": ("shipper", "from", "sender"),
    "shipper_address": ("shipper address", "from address", "sender address"),
    "consignee_name": ("consignee", "to", "ship to", "receiver"),
    "consignee_address": ("consignee address", "to address", "receiver address"),
    "weight": ("weight", "gross weight", "total weight"),
    "pieces": ("pieces", "total pieces", "pcs"),
    "container_number": ("container", "container no"),
}
REQUIRED = ("tracking_number", "carrier", "shipper_name", "consignee_name", "weight")
PII_FIELDS = ("shipper_name", "shipper_address", "consignee_name", "consignee_address")

_KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z .#/-]{0,29}):\s*(?P<value>.+?)\s*$")
_WEIGHT = re.compile(r"(?P<value>\d+(?:[.,]\d+)?)\s*(?P<unit>[A-Za-z]+)?")
_INT = re.compile(r"\d+")

SHIPMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "tracking_number",
        "carrier",
        "shipper_name",
        "consignee_name",
        "weight_value",
        "weight_unit",
    ],
    "properties": {
        "tracking_number": {"type": "string", "pattern": "^[A-Z0-9][A-Z0-9 -]{5,34}$"},
        "carrier": {"type": "string", "minLength": 1},
        "shipper_name": {"type": "string", "minLength": 1},
        "shipper_address": {"type": ["string", "null"]},
        "consignee_name": {"type": "string", "minLength": 1},
        "consignee_address": {"type": ["string", "null"]},
        "weight_value": {"type": "number", "exclusiveMinimum": 0},
        "weight_unit": {"type": "string", "enum": ["kg", "lb", "g"]},
        "pieces": {"type": ["integer", "null"], "minimum": 1},
        "container_number": {"type": ["string", "null"]},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["description"],
                "properties": {
                    "description": {"type": "string"},
                    "quantity": {"type": ["integer", "null"], "minimum": 0},
                },
            },
        },
    },
}
SHIPMENT_INSTRUCTIONS = (
    "A shipping document (waybill, bill of lading, consignment note, packing list or parcel label). "
    "The shipper is the sender, the consignee the receiver. Copy the tracking number exactly as "
    "printed, without correcting it."
)


def shipment_schema() -> Any:
    """The language core's :class:`~shared.language.extraction.DocumentSchema` of a shipment."""
    from shared.language.extraction import DocumentSchema

    return DocumentSchema("shipment", SHIPMENT_SCHEMA, SHIPMENT_INSTRUCTIONS)


@dataclass
class Party:
    name: str | None = None
    address: str | None = None


@dataclass
class Item:
    description: str
    quantity: int | None = None
    weight_kg: float | None = None


@dataclass
class ShipmentRecord:
    """One document's shipment, as typed fields (None: the document does not say)."""

    tracking_number: str | None = None
    tracking_scheme: str | None = None
    carrier: str | None = None
    shipper: Party = field(default_factory=Party)
    consignee: Party = field(default_factory=Party)
    weight_value: float | None = None
    weight_unit: str | None = None
    pieces: int | None = None
    container_number: str | None = None
    items: list[Item] = field(default_factory=list)

    @property
    def weight_kg(self) -> float | None:
        if self.weight_value is None or self.weight_unit not in TO_KG:
            return None
        return round(self.weight_value * TO_KG[self.weight_unit], 3)

    def missing(self) -> list[str]:
        """The required fields this record lacks (``weight`` counts as present with a value)."""
        present = {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "shipper_name": self.shipper.name,
            "consignee_name": self.consignee.name,
            "weight": self.weight_value,
        }
        return [name for name in REQUIRED if present[name] in (None, "")]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["weight_kg"] = self.weight_kg
        return out


def classify(text: str, key: str, image: bool) -> tuple[str, str]:
    """The document type and why: from the key path for inventory photos, else from the text."""
    parts = [p.lower() for p in key.split("/")[:-1]]
    if image and "inventory" in parts:
        return INVENTORY, "an image under an inventory/ folder: labels counted per location"
    head = text[:400].upper()
    if "PACKING LIST" in head:
        return PACKING_LIST, "title PACKING LIST"
    if "WAYBILL" in head or "CONSIGNMENT NOTE" in head:
        return WAYBILL, "title WAYBILL"
    if image:
        return LABEL, "a photo outside inventory/: a parcel label"
    return SHIPPING_DOCUMENT, "no known title: the model reads it"


def inventory_location(key: str) -> str:
    """The location of an inventory photo: its folders after ``inventory/`` (``dc-east/aisle-03``)."""
    parts = key.split("/")[:-1]
    lowered = [p.lower() for p in parts]
    after = parts[lowered.index("inventory") + 1 :] if "inventory" in lowered else parts
    return "/".join(after) or "(unknown)"


def key_values_of_lines(lines: Sequence[str]) -> dict[str, str]:
    """``Label: value`` lines as a mapping (first occurrence wins), for Rekognition's LINE answers."""
    pairs: dict[str, str] = {}
    for line in lines:
        found = _KEY_VALUE.match(line.strip())
        if found:
            pairs.setdefault(_norm(found.group("key")), found.group("value"))
    return pairs


def _norm(key: str) -> str:
    return " ".join(key.strip().rstrip(":").lower().split())


def key_values_of(document: ParsedDocument) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for kv in document.key_values:
        if kv.value:
            pairs.setdefault(_norm(kv.key), kv.value.strip())
    for key, value in key_values_of_lines([line.text for line in document.lines]).items():
        pairs.setdefault(key, value)
    return pairs


def parse_weight(text: str) -> tuple[float | None, str | None]:
    """``"12.5 kg"`` -> (12.5, "kg"); a number without a unit -> (value, None)."""
    found = _WEIGHT.search(text or "")
    if not found:
        return None, None
    value = float(found.group("value").replace(",", "."))
    unit = UNITS.get((found.group("unit") or "").lower())
    return value, unit


def _int(text: str | None) -> int | None:
    found = _INT.search(text or "")
    return int(found.group(0)) if found else None


def _column(header: Sequence[str], *names: str) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for index, name in enumerate(lowered):
        if any(n in name for n in names):
            return index
    return None


def items_of(tables: Sequence[Table]) -> list[Item]:
    """The items of the first table with a description and a quantity column."""
    for table in tables:
        rows = table.rows()
        if len(rows) < 2:
            continue
        header = rows[0]
        desc = _column(header, "description", "item", "goods", "contents")
        qty = _column(header, "qty", "quantity", "pieces", "pcs")
        if desc is None or qty is None:
            continue
        weight = _column(header, "weight")
        items = []
        for row in rows[1:]:
            if not any(cell.strip() for cell in row):
                continue
            kg = None
            if weight is not None and weight < len(row):
                value, unit = parse_weight(row[weight])
                kg = None if value is None else value * TO_KG.get(unit or "kg", 1.0)
            items.append(Item(row[desc].strip(), _int(row[qty]) if qty < len(row) else None, kg))
        return items
    return []


def _tracking(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    s10 = s10_identifier(value)
    if s10:
        return s10.value, S10
    return " ".join(value.split()).upper(), "carrier"


def rule_record(pairs: Mapping[str, str], tables: Sequence[Table] = ()) -> ShipmentRecord:
    """The record the label table reads from ``pairs`` (see :data:`LABELS`) and the items table."""

    def pick(name: str) -> str | None:
        return next((pairs[label] for label in LABELS[name] if pairs.get(label)), None)

    tracking, scheme = _tracking(pick("tracking_number"))
    weight_value, weight_unit = parse_weight(pick("weight") or "")
    container = pick("container_number")
    record = ShipmentRecord(
        tracking_number=tracking,
        tracking_scheme=scheme,
        carrier=pick("carrier"),
        shipper=Party(pick("shipper_name"), pick("shipper_address")),
        consignee=Party(pick("consignee_name"), pick("consignee_address")),
        weight_value=weight_value,
        weight_unit=weight_unit,
        pieces=_int(pick("pieces")),
        container_number="".join(container.split()).upper() if container else None,
        items=items_of(tables),
    )
    logger.debug("rules found %d of %d required fields", len(REQUIRED) - len(record.missing()), len(REQUIRED))
    return record


def record_from_model(data: Mapping[str, Any], rules: ShipmentRecord | None = None) -> ShipmentRecord:
    """A validated model answer (:data:`SHIPMENT_SCHEMA`) as a record; the rules' items are kept."""
    tracking, scheme = _tracking(str(data["tracking_number"]))
    container = data.get("container_number")
    items = [
        Item(str(i["description"]), i.get("quantity"))
        for i in data.get("items") or []
        if i.get("description")
    ]
    return ShipmentRecord(
        tracking_number=tracking,
        tracking_scheme=scheme,
        carrier=str(data["carrier"]),
        shipper=Party(str(data["shipper_name"]), data.get("shipper_address")),
        consignee=Party(str(data["consignee_name"]), data.get("consignee_address")),
        weight_value=float(data["weight_value"]),
        weight_unit=str(data["weight_unit"]),
        pieces=data.get("pieces"),
        container_number="".join(str(container).split()).upper() if container else None,
        items=items or (rules.items if rules else []),
    )


@dataclass(frozen=True)
class Finding:
    rule: str
    status: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "status": self.status, "detail": self.detail}


def findings(record: ShipmentRecord) -> list[Finding]:
    """Every check of the record, each a named finding (see the module docstring)."""
    out: list[Finding] = []
    number = record.tracking_number
    if record.tracking_scheme == S10 and number:
        ident = s10_identifier(number)
        assert ident is not None  # the scheme was set from this shape
        out.append(
            Finding("s10_check_digit", PASS, f"{number}: check digit holds")
            if ident.valid
            else Finding(
                "s10_check_digit",
                FAIL,
                f"{number}: check digit {number[10]}, the serial gives {ident.expected_check_digit}",
            )
        )
    else:
        out.append(
            Finding("s10_check_digit", NOT_APPLICABLE, "not a UPU S10 item id; no check digit defined")
        )
    if record.container_number:
        ident = iso6346_identifier(record.container_number)
        if ident is None:
            out.append(
                Finding("iso6346_check_digit", FAIL, f"{record.container_number}: not an ISO 6346 number")
            )
        elif ident.valid:
            out.append(Finding("iso6346_check_digit", PASS, f"{ident.value}: check digit holds"))
        else:
            out.append(
                Finding(
                    "iso6346_check_digit",
                    FAIL,
                    f"{ident.value}: check digit {ident.value[10]}, "
                    f"the code gives {ident.expected_check_digit}",
                )
            )
    if record.weight_value is not None:
        out.append(
            Finding("weight_has_unit", PASS, record.weight_unit or "")
            if record.weight_unit
            else Finding("weight_has_unit", FAIL, f"weight {record.weight_value} has no unit (kg, lb or g)")
        )
    quantities = [i.quantity for i in record.items if i.quantity is not None]
    if record.pieces is not None and quantities:
        total = sum(quantities)
        out.append(
            Finding("pieces_match_items", PASS, f"{total} piece(s)")
            if total == record.pieces
            else Finding(
                "pieces_match_items", FAIL, f"{record.pieces} piece(s) declared, items add up to {total}"
            )
        )
    item_weights = [i.weight_kg for i in record.items if i.weight_kg is not None]
    if record.weight_kg is not None and item_weights and len(item_weights) == len(record.items):
        total_kg = round(sum(item_weights), 3)
        ok = abs(total_kg - record.weight_kg) <= max(0.01, 0.005 * record.weight_kg)
        out.append(
            Finding(
                "weight_matches_items",
                PASS if ok else FAIL,
                f"{record.weight_kg} kg declared, items {total_kg} kg",
            )
        )
    return out


def needs_review(found: Sequence[Finding]) -> bool:
    return any(f.status == FAIL for f in found)
