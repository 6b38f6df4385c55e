"""The OASIS reader against files assembled by hand from SEMI P39, and broken ones."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from shared.formats.oasis import (
    OasisError,
    OasisMagicError,
    OasisRecordError,
    OasisTruncatedError,
    read_oasis,
)
from shared.formats.samples import eda


def u(value: int) -> bytes:
    """An unsigned integer: 7 bits per byte, least significant first, high bit = more follows."""
    out = bytearray()
    while value >= 0x80:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def s(value: int) -> bytes:
    """A signed integer: the sign in bit 0 of the unsigned encoding of (magnitude << 1)."""
    return u((abs(value) << 1) | (1 if value < 0 else 0))


def a(text: str) -> bytes:
    return u(len(text)) + text.encode()


MAGIC = b"%SEMI-OASIS\r\n"
TABLES = bytes(12)  # six (flag, offset) pairs, all zero


def start(unit: bytes = b"\x00\xe8\x07", offset_flag: int = 0) -> bytes:
    # START: version "1.0", unit (real type 0, 1000), offset flag, tables when the flag is 0.
    return MAGIC + b"\x01" + a("1.0") + unit + u(offset_flag) + (TABLES if offset_flag == 0 else b"")


END = b"\x02" + u(3) + b"\0\0\0" + u(0)  # END: padding string, validation scheme 0


def rectangle(layer: int, dt: int, x: int, y: int, w: int, h: int) -> bytes:
    return b"\x14" + bytes([0b01111011]) + u(layer) + u(dt) + u(w) + u(h) + s(x) + s(y)


def test_implicit_cellnames_units_layers_and_hierarchy() -> None:
    data = (
        start()
        + b"\x03"
        + a("TOP")  # CELLNAME, implicit reference number 0
        + b"\x03"
        + a("LEAF")  # 1
        + b"\x0d"
        + u(1)  # CELL by reference number: LEAF
        + rectangle(1, 0, 0, 0, 100, 50)
        + b"\x14"
        + bytes([0b01011000])
        + u(70)
        + s(10)
        + s(10)  # layer, datatype, height modal
        + b"\x0d"
        + u(0)  # CELL TOP
        + b"\x11"
        + bytes([0b11110000])
        + u(1)
        + s(0)
        + s(0)  # PLACEMENT of #1 at (0, 0)
        + b"\x11"
        + bytes([0b10111000])
        + a("GHOST")
        + s(5)
        + s(5)
        + u(2)
        + u(1)
        + u(10)  # by name, x3 repetition
        + END
    )
    summary = read_oasis(io.BytesIO(data))
    assert summary.version == "1.0"
    assert summary.unit == 1000.0
    assert summary.db_unit_m == pytest.approx(1e-9)
    assert summary.cells == ["LEAF", "TOP"]
    assert summary.cell_count == 2
    assert summary.top_cells == ["TOP"]
    assert summary.hierarchy == {"TOP": {"LEAF": 1, "GHOST": 3}}
    assert summary.layers == {(1, 0): 2}
    assert [f["code"] for f in summary.findings] == ["undefined_cell"]
    assert summary.bytes_read == len(data)


def test_explicit_cellnames_at_the_end_through_the_end_record_tables() -> None:
    data = (
        start(offset_flag=1)
        + b"\x0d"
        + u(7)
        + rectangle(5, 2, 0, 0, 10, 10)
        + b"\x0e"
        + a("NAMED")
        + b"\x11"
        + bytes([0b11000000])
        + u(7)  # CELL by name placing #7
        + b"\x04"
        + a("CORE")
        + u(7)  # CELLNAME with explicit reference number 7
        + b"\x02"
        + TABLES
        + u(0)
        + u(0)
    )
    summary = read_oasis(io.BytesIO(data))
    assert summary.cells == ["CORE", "NAMED"]
    assert summary.hierarchy == {"NAMED": {"CORE": 1}}
    assert summary.top_cells == ["NAMED"]
    assert summary.name_tables["cellname"] == 1


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        (b"\x00" + u(2000), 2000.0),  # positive integer
        (b"\x04" + u(1000) + u(4), 250.0),  # ratio
        (b"\x07" + struct.pack("<d", 400.0), 400.0),  # IEEE double
        (b"\x06" + struct.pack("<f", 10000.0), 10000.0),  # IEEE float
    ],
)
def test_unit_comes_from_the_file(unit: bytes, expected: float) -> None:
    data = start(unit) + b"\x03" + a("C") + b"\x0d" + u(0) + END
    summary = read_oasis(io.BytesIO(data))
    assert summary.unit == expected
    assert summary.db_unit_m == pytest.approx(1e-6 / expected)


def test_cblock_is_inflated_and_its_records_read() -> None:
    inner = (
        rectangle(3, 1, 0, 0, 5, 5)
        + b"\x14"
        + bytes([0b00000100])
        + u(1)
        + u(1)
        + u(0)
        + u(4)
        + u(4)  # modal everything, 3x2 matrix
    )
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = comp.compress(inner) + comp.flush()
    data = (
        start()
        + b"\x03"
        + a("ONLY")
        + b"\x0d"
        + u(0)
        + b"\x22"
        + u(0)
        + u(len(inner))
        + u(len(deflated))
        + deflated
        + END
    )
    summary = read_oasis(io.BytesIO(data))
    assert summary.cblocks == 1
    assert summary.layers == {(3, 1): 1 + 6}
    assert summary.elements == {"rectangle": 2}


def test_every_geometry_record_is_walked_exactly() -> None:
    body = (
        b"\x05"
        + a("label")  # TEXTSTRING
        + b"\x07"
        + a("fire")  # PROPNAME
        + b"\x09"
        + a("value")  # PROPSTRING
        + b"\x0b"
        + a("METAL1")
        + u(2)
        + u(1)
        + u(4)
        + u(0)
        + u(9)  # LAYERNAME with intervals
        + b"\x0d"
        + u(0)
        + b"\x10"  # XYRELATIVE
        + b"\x15"
        + bytes([0b00111011])
        + u(2)
        + u(0)
        + u(0)
        + u(3)
        + s(10)
        + s(-10)
        + s(10)
        + s(0)
        + s(0)
        + b"\x15"
        + bytes([0b00100000])
        + u(4)
        + u(2)
        + u(0b10110)
        + u(0b1001)
        + s(-7)  # g-delta list
        + b"\x16"
        + bytes([0b11100011])
        + u(3)
        + u(0)
        + u(5)
        + u(0b1111)
        + s(-2)
        + s(4)
        + u(1)
        + u(2)
        + s(100)
        + s(-50)  # PATH, explicit extensions, 2 points
        + b"\x17"
        + bytes([0b01100011])
        + u(4)
        + u(0)
        + u(10)
        + u(5)
        + s(2)
        + s(-2)  # TRAPEZOID
        + b"\x18"
        + bytes([0b00000000])
        + s(1)  # TRAPEZOID (delta-a only), all modal
        + b"\x1a"
        + bytes([0b11100011])
        + u(5)
        + u(0)
        + u(16)
        + u(10)
        + u(20)  # CTRAPEZOID
        + b"\x1b"
        + bytes([0b00100101])
        + u(7)
        + u(9)
        + u(9)
        + u(3)
        + u(8)  # CIRCLE, repetition type 9
        + b"\x13"
        + bytes([0b01111111])
        + u(0)
        + u(6)
        + u(1)
        + s(0)
        + s(0)
        + u(10)
        + u(1)
        + u(6)
        + u(8)
        # TEXT by reference number, repetition type 10 (dimension 1: 2 g-deltas, 3 texts)
        + b"\x1c"
        + bytes([0b00110110])
        + u(0)
        + u(8)
        + u(42)
        + u(13)
        + u(0)
        + u(2)
        + u(3)  # PROPERTY
        + b"\x1d"  # PROPERTY repeat
        + b"\x1c"
        + bytes([0b11110100])
        + a("x")
        + u(1)
        + u(10)
        + a("s")
        + b"\x20"
        + u(1)
        + a("ext")  # XELEMENT
        + b"\x21"
        + bytes([0b00000011])
        + u(9)
        + u(8)
        + u(1)
        + a("xg")  # XGEOMETRY
        + b"\x14"
        + bytes([0b01111111])
        + u(1)
        + u(0)
        + u(5)
        + u(5)
        + s(0)
        + s(0)
        + u(0)  # reuse repetition
        + b"\x00"  # PAD
    )
    summary = read_oasis(io.BytesIO(start() + b"\x03" + a("C") + body + END))
    assert summary.elements == {
        "polygon": 2,
        "path": 1,
        "trapezoid": 2,
        "ctrapezoid": 1,
        "circle": 1,
        "text": 1,
        "xgeometry": 1,
        "rectangle": 1,
    }
    assert summary.layers[(2, 0)] == 2
    assert summary.layers[(7, 0)] == 5  # the circle repeats 3 + 2 times
    assert summary.layers[(1, 0)] == 3  # repetition type 0 reuses the TEXT's (3)
    assert summary.layers[(8, 1)] == 1
    assert summary.name_tables == {
        "cellname": 1,
        "textstring": 1,
        "propname": 1,
        "propstring": 1,
        "layername": 1,
    }


# -- broken files --------------------------------------------------------------------------------------


def test_bad_magic() -> None:
    with pytest.raises(OasisMagicError) as info:
        read_oasis(io.BytesIO(b"\x00\x06\x00\x02\x02\x58" + bytes(20)))
    assert info.value.details["offset"] == 0


def test_short_file_is_bad_magic() -> None:
    with pytest.raises(OasisMagicError):
        read_oasis(io.BytesIO(b"%SEMI"))


def test_truncated_inside_a_record() -> None:
    data = start() + b"\x03" + a("C") + b"\x0d" + u(0) + rectangle(1, 0, 0, 0, 5, 5)[:-2]
    with pytest.raises(OasisTruncatedError) as info:
        read_oasis(io.BytesIO(data))
    assert info.value.details["record"] == "RECTANGLE"


def test_truncated_before_end() -> None:
    with pytest.raises(OasisTruncatedError, match="END"):
        read_oasis(io.BytesIO(start() + b"\x03" + a("C")))


def test_cblock_whose_size_does_not_match() -> None:
    deflated = zlib.compress(b"\x00" * 10)[2:-4]  # raw deflate of ten PADs
    data = start() + b"\x22" + u(0) + u(11) + u(len(deflated)) + deflated + END
    with pytest.raises(OasisRecordError, match="declared 11") as info:
        read_oasis(io.BytesIO(data))
    assert info.value.details["record"] == "CBLOCK"


def test_cblock_that_is_not_deflate() -> None:
    data = start() + b"\x22" + u(0) + u(4) + u(4) + b"\xff\xff\xff\xff" + END
    with pytest.raises(OasisRecordError, match="inflate"):
        read_oasis(io.BytesIO(data))


def test_error_inside_a_cblock_names_both_offsets() -> None:
    inner = b"\x00\x00\x63"  # two PADs then record type 99
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = comp.compress(inner) + comp.flush()
    cblock_at = len(start())
    data = start() + b"\x22" + u(0) + u(3) + u(len(deflated)) + deflated + END
    with pytest.raises(OasisRecordError, match="unknown record type 99") as info:
        read_oasis(io.BytesIO(data))
    assert info.value.details["offset"] == 2
    assert info.value.details["cblock_offset"] == cblock_at


def test_mixed_implicit_and_explicit_cellnames_are_refused() -> None:
    data = start() + b"\x03" + a("A") + b"\x04" + a("B") + u(5) + END
    with pytest.raises(OasisRecordError, match="mix"):
        read_oasis(io.BytesIO(data))


def test_cell_number_without_a_name() -> None:
    with pytest.raises(OasisRecordError, match="no CELLNAME"):
        read_oasis(io.BytesIO(start() + b"\x0d" + u(4) + END))


def test_modal_variable_used_before_it_is_set() -> None:
    data = start() + b"\x03" + a("C") + b"\x0d" + u(0) + b"\x14" + bytes([0b01100000]) + u(1) + u(1) + END
    with pytest.raises(OasisRecordError, match="modal variable layer"):
        read_oasis(io.BytesIO(data))


def test_geometry_outside_a_cell() -> None:
    with pytest.raises(OasisRecordError, match="outside a CELL"):
        read_oasis(io.BytesIO(start() + rectangle(1, 0, 0, 0, 1, 1) + END))


def test_unsupported_version() -> None:
    data = MAGIC + b"\x01" + a("2.0") + b"\x00\x01" + u(1) + END
    with pytest.raises(OasisError, match="version"):
        read_oasis(io.BytesIO(data))


# -- the sample writer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("explicit", [False, True])
def test_sample_writer_files_read_back(compress: bool, explicit: bool) -> None:
    cells = [
        eda.OasisCell("LEAF", [(1, 0, 0, 0, 10, 10), (2, 0, 0, 0, 0, 4)]),
        eda.OasisCell("TOP", [], [("LEAF", 0, 0), ("LEAF", 20, 0)]),
    ]
    data = eda.oasis_file(cells, unit=4000.0, compress=compress, explicit_names=explicit)
    summary = read_oasis(io.BytesIO(data), chunk_size=16)
    assert summary.unit == 4000.0
    assert summary.cells == ["LEAF", "TOP"]
    assert summary.hierarchy == {"TOP": {"LEAF": 2}}
    assert summary.cblocks == (2 if compress else 0)
    assert [f["code"] for f in summary.findings] == ["zero_size_rectangle"]
    assert summary.findings[0]["examples"][0]["cell"] == "LEAF"
