"""UC6's sample volume: two projects of GDSII and OASIS libraries, with every defect the pipeline reports.

``soc-alpha`` shares a 1 nm database unit across GDSII and OASIS libraries; one library has
degenerate boundaries, another references a cell it never defines. ``soc-beta`` mixes a 0.25 nm
library into a 1 nm set (the unit mismatch) and keeps its layout in a compressed OASIS file (CBLOCK,
explicit CELLNAME reference numbers). ``broken/`` holds files the readers must refuse: a truncated
GDSII stream, a GDSII UNITS record of the wrong length, an OASIS file with bad magic and a
truncated one. The files come from :mod:`shared.formats.samples.eda`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.formats.samples import eda

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    key: str
    body: bytes
    expect: str  # "ok", "findings" or "broken"


def _leaf(layer: int) -> list[bytes]:
    return [eda.gds_rect(layer, 0, 0, 0, 400, 200), eda.gds_path(layer + 1, 0, 20, [(0, 100), (400, 100)])]


def alu() -> bytes:
    return eda.gds_library(
        "ALU",
        {
            "FULL_ADDER": _leaf(1),
            "ADDER_ROW": [eda.gds_aref("FULL_ADDER", 8, 1, (0, 0), (500, 0))],
            "ALU_TOP": [
                eda.gds_sref("ADDER_ROW", 0, 0),
                eda.gds_sref("ADDER_ROW", 0, 1000, angle=180),
                eda.gds_sref("FULL_ADDER", 5000, 0, reflect=True, mag=2.0),
                eda.gds_text(10, 0, 0, 0, "VDD"),
            ],
        },
    )


def regfile() -> bytes:
    cells = {"BIT": _leaf(3), "WORD": [eda.gds_aref("BIT", 32, 1, (0, 0), (450, 0))]}
    cells["REGFILE"] = [eda.gds_aref("WORD", 1, 16, (0, 0), (0, 300), angle=0.0)]
    return eda.gds_library("REGFILE", cells)


def io_ring() -> bytes:
    return eda.gds_library(
        "IO_RING",
        {
            "PAD": [eda.gds_rect(5, 0, 0, 0, 800, 800)],
            "RING": [
                *(eda.gds_sref("PAD", i * 1000, 0) for i in range(6)),
                eda.gds_boundary(6, 0, [(0, 0), (500, 0), (1000, 0), (0, 0)]),  # zero area
                eda.gds_boundary(6, 0, [(0, 0), (500, 0), (500, 500), (0, 500)]),  # not closed
            ],
        },
    )


def chip_top() -> bytes:
    return eda.gds_library(
        "CHIP",
        {
            "CHIP_TOP": [
                eda.gds_sref("ALU_TOP", 0, 0),
                eda.gds_sref("MISSING_MACRO", 20_000, 0),
                eda.gds_rect(0, 0, 0, 0, 30_000, 30_000),
            ]
        },
    )


def pll_oasis() -> bytes:
    cells = [
        eda.OasisCell("VCO", [(20, 0, 0, 0, 300, 300), (21, 0, 50, 50, 10, 200)]),
        eda.OasisCell("PLL", [(22, 0, 0, 0, 1000, 50)], [("VCO", 0, 0), ("VCO", 400, 0)]),
    ]
    return eda.oasis_file(cells, unit=1000.0)


def sram() -> bytes:
    return eda.gds_library(
        "SRAM", {"CELL6T": _leaf(7), "ARRAY": [eda.gds_aref("CELL6T", 64, 64, (0, 0), (450, 250))]}
    )


def analog() -> bytes:
    # A library drawn on a 0.25 nm grid, in a project whose other libraries use 1 nm.
    return eda.gds_library(
        "ANALOG", {"BANDGAP": [eda.gds_rect(30, 0, 0, 0, 4000, 4000)]}, user_unit=0.25e-3, db_unit_m=0.25e-9
    )


def beta_top_oasis() -> bytes:
    cells = [
        eda.OasisCell("FILL", [(40, 1, x * 20, 0, 10, 10) for x in range(50)]),
        eda.OasisCell("BETA_TOP", [(41, 0, 0, 0, 5000, 5000)], [("FILL", 0, 0), ("FILL", 0, 100)]),
    ]
    return eda.oasis_file(cells, unit=1000.0, compress=True, explicit_names=True)


def plan() -> list[Sample]:
    good_gds = alu()
    good_oas = pll_oasis()
    bad_units = bytearray(eda.gds_header("BROKEN"))
    units_at = bad_units.index(bytes.fromhex("00140305"))
    bad_units[units_at : units_at + 2] = (12 + 4).to_bytes(2, "big")  # UNITS record says 16 bytes, holds 20
    return [
        Sample("soc-alpha/alu.gds", good_gds, "ok"),
        Sample("soc-alpha/regfile.gds", regfile(), "ok"),
        Sample("soc-alpha/io_ring.gds", io_ring(), "findings"),
        Sample("soc-alpha/chip_top.gds", chip_top(), "findings"),
        Sample("soc-alpha/pll.oas", good_oas, "ok"),
        Sample("soc-beta/sram.gds", sram(), "ok"),
        Sample("soc-beta/analog.gds", analog(), "ok"),
        Sample("soc-beta/beta_top.oas", beta_top_oasis(), "ok"),
        Sample("broken/truncated.gds", good_gds.rstrip(b"\0")[:-30], "broken"),
        Sample("broken/units_length.gds", bytes(bad_units) + eda.gds_record(0x04, 0), "broken"),
        Sample("broken/bad_magic.oas", b"%SEMI-OASIS\n" + good_oas[13:], "broken"),
        Sample("broken/truncated.oas", good_oas[:40], "broken"),
    ]
