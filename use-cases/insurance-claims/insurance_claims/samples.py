"""UC14's sample claims: damage photos (real JPEGs), estimates (born-digital and image-only PDFs),
policy letters, an incomplete claim and broken files.

Photos are drawn with Pillow (a car body with a dent and scratches, seeded per photo, so each JPEG
differs); estimates and letters use the shared document writers
(``shared.formats.samples.documents``): a text layer for born-digital PDFs, a JPEG page with the
record of what it shows for the image-only one. :func:`plan` lists the demo's claims and what the
pipeline must make of each (the recommendation, or the typed error of a broken file).
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from shared.formats.samples import documents as docs
from shared.formats.samples.documents import Run

logger = logging.getLogger(__name__)

REPAIRS = (
    ("Front bumper cover", Decimal("420.00")),
    ("Headlamp assembly", Decimal("385.50")),
    ("Bonnet panel repair", Decimal("610.00")),
    ("Paint and blend", Decimal("540.00")),
    ("Windscreen", Decimal("890.00")),
    ("Labour (hours)", Decimal("95.00")),
)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,.2f}"


def damage_photo(seed: int, size: tuple[int, int] = (640, 480), quality: int = 85) -> bytes:
    """A JPEG of a damaged car: body, wheels, windows, a dent and scratches placed by ``seed``."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    w, h = size
    image = Image.new("RGB", size, (rng.randint(150, 200), rng.randint(170, 210), rng.randint(190, 230)))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(h * 0.72), w, h), fill=(90, 90, 95))  # road
    colour = (rng.randint(60, 220), rng.randint(20, 120), rng.randint(20, 120))
    body = (int(w * 0.12), int(h * 0.42), int(w * 0.88), int(h * 0.72))
    draw.rounded_rectangle(body, radius=30, fill=colour)
    draw.polygon(
        [(w * 0.28, h * 0.42), (w * 0.38, h * 0.26), (w * 0.66, h * 0.26), (w * 0.76, h * 0.42)], fill=colour
    )
    draw.polygon(
        [(w * 0.32, h * 0.41), (w * 0.40, h * 0.29), (w * 0.64, h * 0.29), (w * 0.72, h * 0.41)],
        fill=(170, 200, 220),
    )
    for cx in (0.27, 0.73):
        draw.ellipse((w * cx - 45, h * 0.66, w * cx + 45, h * 0.66 + 90), fill=(25, 25, 25))
    dx, dy = rng.uniform(0.2, 0.7) * w, rng.uniform(0.48, 0.62) * h
    draw.ellipse((dx - 40, dy - 25, dx + 40, dy + 25), fill=tuple(max(0, c - 60) for c in colour))  # dent
    for _ in range(6):  # scratches
        x0, y0 = dx + rng.uniform(-60, 60), dy + rng.uniform(-30, 30)
        draw.line(
            (x0, y0, x0 + rng.uniform(-70, 70), y0 + rng.uniform(-20, 20)), fill=(230, 230, 230), width=2
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def estimate_page(claim: int, items: int, *, scale: int = 1, policy: str = "") -> list[Run]:
    """A body-shop estimate whose lines add up to its subtotal and total."""
    rows = [REPAIRS[(claim + i) % len(REPAIRS)] for i in range(items)]
    table = [[name, str(scale), _money(price), _money(price * scale)] for name, price in rows]
    subtotal = sum((price * scale for _, price in rows), Decimal(0))
    tax = (subtotal * Decimal("0.08")).quantize(Decimal("0.01"))
    runs = [
        Run("Northside Auto Body", 72, 60, 16),
        Run(f"Estimate No: EST-{claim:05d}", 72, 100),
        Run(f"Date: 2026-11-{1 + claim % 28:02d}", 72, 116),
        Run("Currency: USD", 72, 132),
    ]
    if policy:
        runs.append(Run(f"Policy number: {policy}", 330, 100))
    runs += docs.table_runs(["Description", "Qty", "Unit Price", "Amount"], table, [72, 300, 360, 460], 190)
    y = 190 + 16 * (len(table) + 2)
    runs += [
        Run(f"Subtotal: {_money(subtotal)}", 360, y),
        Run(f"Tax: {_money(tax)}", 360, y + 16),
        Run(f"Total: {_money(subtotal + tax)}", 360, y + 32),
    ]
    return runs


def estimate_total(claim: int, items: int, scale: int = 1) -> float:
    subtotal = sum((REPAIRS[(claim + i) % len(REPAIRS)][1] * scale for i in range(items)), Decimal(0))
    return float(subtotal + (subtotal * Decimal("0.08")).quantize(Decimal("0.01")))


def policy_letter(policy: str, holder: str, status: str = "Active") -> list[Run]:
    return docs.letter_page(
        "Harbour Mutual Insurance - Policy confirmation",
        [
            f"Policy holder: {holder}",
            f"Policy number: {policy}",
            f"Policy status: {status}",
            "Cover: comprehensive motor, excess 250.00 USD",
            "Period: 2026-01-01 to 2026-12-31",
        ],
    )


@dataclass(frozen=True)
class Sample:
    key: str
    make: Callable[[], bytes]
    error: str = ""  # the typed error of a broken file


@dataclass(frozen=True)
class ClaimPlan:
    claim_id: str
    recommendation: str
    files: tuple[Sample, ...]


HOLDERS = {
    "CLM-1001": "Maria Jensen",
    "CLM-1002": "Tomas Okafor",
    "CLM-1003": "Ana Lopez",
    "CLM-1004": "Li Wei",
}
POLICIES = {
    "CLM-1001": "POL-884213",
    "CLM-1002": "POL-551907",
    "CLM-1003": "POL-300118",
    "CLM-1004": "POL-702264",
}


def plan() -> list[ClaimPlan]:
    """Four claims: approve (small born-digital estimate), review (large image-only estimate),
    needs-information (no estimate, a broken photo), deny (lapsed policy, broken documents)."""

    def letter(claim: str, status: str = "Active") -> Callable[[], bytes]:
        return lambda: docs.text_pdf([policy_letter(POLICIES[claim], HOLDERS[claim], status)])

    return [
        ClaimPlan(
            "CLM-1001",
            "approve",
            (
                Sample("claims/CLM-1001/damage-front.jpg", lambda: damage_photo(1)),
                Sample("claims/CLM-1001/damage-side.jpg", lambda: damage_photo(2)),
                Sample("claims/CLM-1001/estimate.pdf", lambda: docs.text_pdf([estimate_page(1, 3)])),
                Sample("claims/CLM-1001/policy-letter.pdf", letter("CLM-1001")),
            ),
        ),
        ClaimPlan(
            "CLM-1002",
            "review",
            (
                Sample("claims/CLM-1002/photo-1.jpg", lambda: damage_photo(3)),
                Sample("claims/CLM-1002/photo-2.jpg", lambda: damage_photo(4)),
                Sample(
                    "claims/CLM-1002/estimate-scan.pdf",
                    lambda: docs.image_pdf([estimate_page(2, 5, scale=4, policy=POLICIES["CLM-1002"])]),
                ),
            ),
        ),
        ClaimPlan(
            "CLM-1003",
            "needs-information",
            (
                Sample("claims/CLM-1003/damage.jpg", lambda: damage_photo(5)),
                Sample(
                    "claims/CLM-1003/damage-2.jpg",
                    lambda: docs.truncated(damage_photo(6)),
                    "BrokenPhotoError",
                ),
                Sample("claims/CLM-1003/policy-letter.pdf", letter("CLM-1003")),
            ),
        ),
        ClaimPlan(
            "CLM-1004",
            "deny",
            (
                Sample("claims/CLM-1004/damage.jpg", lambda: damage_photo(7)),
                Sample("claims/CLM-1004/estimate.pdf", lambda: docs.text_pdf([estimate_page(4, 2)])),
                Sample("claims/CLM-1004/policy-letter.pdf", letter("CLM-1004", "Lapsed")),
                Sample("claims/CLM-1004/claim-form.pdf", docs.zero_pages, "EmptyDocumentError"),
                Sample(
                    "claims/CLM-1004/old-estimate.pdf",
                    lambda: docs.encrypted(docs.text_pdf([estimate_page(4, 1)])),
                    "EncryptedDocumentError",
                ),
                Sample(
                    "claims/CLM-1004/photo-3.jpg",
                    lambda: docs.text_pdf([estimate_page(4, 1)]),
                    "BrokenPhotoError",
                ),
            ),
        ),
    ]


def files() -> list[Sample]:
    return [sample for claim in plan() for sample in claim.files]
