"""The GDSII reader against files built byte by byte from the Stream Format Manual, and broken ones."""

from __future__ import annotations

import io
import struct

import pytest

from shared.formats import gdsii
from shared.formats.gdsii import (
    GdsiiError,
    GdsiiMagicError,
    GdsiiRecordError,
    GdsiiStructureError,
    GdsiiTruncatedError,
    excess64_to_float,
    float_to_excess64,
    read_gdsii,
)
from shared.formats.samples import eda


# Hand-assembled records: 2-byte length, record type, data type, payload (manual, chapter 3).
def rec(rtype: int, dtype: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HBB", 4 + len(payload), rtype, dtype) + payload


HEADER = bytes.fromhex("0006 0002 0258".replace(" ", ""))  # HEADER, int16, version 600
BGNLIB = bytes.fromhex("001C 0102") + struct.pack(">12h", 2025, 3, 1, 12, 0, 0, 2025, 3, 1, 12, 0, 0)
LIBNAME = bytes.fromhex("000A 0206") + b"MYLIB\0"
# UNITS as real files carry them: 1e-3 user units per database unit, 1e-9 m per database unit.
UNITS = bytes.fromhex("0014 0305 3E4189374BC6A7EF 3944B82FA09B5A51".replace(" ", ""))
ENDLIB = bytes.fromhex("0004 0400")
ENDEL = bytes.fromhex("0004 1100")


def bgnstr(name: str) -> bytes:
    raw = name.encode() + (b"\0" if len(name) % 2 else b"")
    return rec(0x05, 2, struct.pack(">12h", *(2025, 3, 1, 12, 0, 0) * 2)) + rec(0x06, 6, raw)


ENDSTR = bytes.fromhex("0004 0700")


def xy(*pts: int) -> bytes:
    return rec(0x10, 3, struct.pack(f">{len(pts)}i", *pts))


def boundary(layer: int, dt: int, *pts: int) -> bytes:
    return (
        rec(0x08, 0)
        + rec(0x0D, 2, struct.pack(">h", layer))
        + rec(0x0E, 2, struct.pack(">h", dt))
        + xy(*pts)
        + ENDEL
    )


def sref(name: str, x: int, y: int, strans: int = 0, mag: str = "", angle: str = "") -> bytes:
    raw = name.encode() + (b"\0" if len(name) % 2 else b"")
    body = rec(0x0A, 0) + rec(0x12, 6, raw)
    if strans or mag or angle:
        body += rec(0x1A, 1, struct.pack(">H", strans))
    if mag:
        body += rec(0x1B, 5, bytes.fromhex(mag))
    if angle:
        body += rec(0x1C, 5, bytes.fromhex(angle))
    return body + xy(x, y) + ENDEL


def aref(name: str, cols: int, rows: int, *pts: int) -> bytes:
    raw = name.encode() + (b"\0" if len(name) % 2 else b"")
    return rec(0x0B, 0) + rec(0x12, 6, raw) + rec(0x13, 2, struct.pack(">hh", cols, rows)) + xy(*pts) + ENDEL


def library(*cells: bytes) -> bytes:
    return HEADER + BGNLIB + LIBNAME + UNITS + b"".join(cells) + ENDLIB


SQUARE = (0, 0, 100, 0, 100, 100, 0, 100, 0, 0)


def read(data: bytes, **kwargs: int) -> gdsii.GdsiiSummary:
    return read_gdsii(io.BytesIO(data), **kwargs)


# -- 8-byte reals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_value", "expected"),
    [
        ("4110000000000000", 1.0),
        ("3E4189374BC6A7EF", 1e-3),
        ("3944B82FA09B5A51", 1e-9),
        ("C128000000000000", -2.5),
        ("425A000000000000", 90.0),
        ("0000000000000000", 0.0),
        ("4220000000000000", 32.0),
    ],
)
def test_excess64_known_values(hex_value: str, expected: float) -> None:
    assert excess64_to_float(bytes.fromhex(hex_value)) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("value", [1e-3, 1e-9, 2.5e-10, 1.0, -7.25, 123456.789, 90.0, 1e-6])
def test_excess64_round_trip(value: float) -> None:
    assert excess64_to_float(float_to_excess64(value)) == pytest.approx(value, rel=1e-15)


# -- a whole library ---------------------------------------------------------------------------------


def test_library_units_cells_hierarchy_layers() -> None:
    data = library(
        bgnstr("LEAF") + boundary(1, 0, *SQUARE) + boundary(2, 5, *SQUARE) + ENDSTR,
        bgnstr("TOP") + sref("LEAF", 1000, 0) + aref("LEAF", 4, 2, 0, 0, 800, 0, 0, 400) + ENDSTR,
    )
    s = read(data)
    assert s.version == 600
    assert s.library == "MYLIB"
    assert s.modified == "2025-03-01T12:00:00"
    assert s.user_unit == pytest.approx(1e-3)
    assert s.db_unit_m == pytest.approx(1e-9)
    assert s.cell_count == 2
    assert s.cells == ["LEAF", "TOP"]
    assert s.top_cells == ["TOP"]
    assert s.hierarchy == {"TOP": {"LEAF": 9}}  # 1 SREF + a 4x2 AREF
    assert s.layers == {(1, 0): 1, (2, 5): 1}
    assert s.elements == {"boundary": 2, "sref": 1, "aref": 1}
    # LEAF spans 0..100; the AREF's last instance sits at (600, 200); the SREF at (1000, 0).
    assert s.bbox == (0, 0, 1100, 300)
    assert s.bbox_um() == pytest.approx((0, 0, 1.1, 0.3))
    assert s.findings == []
    assert s.bytes_read == len(data)


def test_reads_the_whole_file_not_a_prefix() -> None:
    """Cells after the first 64 KB are counted (the bug this reader replaces)."""
    filler = bgnstr("FILL") + boundary(1, 0, *SQUARE) * 3000 + ENDSTR  # about 180 KB
    late = bgnstr("LATE") + boundary(9, 9, *SQUARE) + ENDSTR
    data = library(filler, late)
    assert len(data) > 150_000
    s = read(data, chunk_size=4096)
    assert s.cells == ["FILL", "LATE"]
    assert (9, 9) in s.layers
    assert s.elements["boundary"] == 3001


@pytest.mark.parametrize(
    ("strans", "mag", "angle", "expected"),
    [
        (0, "", "", (500, 0, 600, 100)),
        (0, "", "425A000000000000", (400, 0, 500, 100)),  # 90 degrees: (x, y) -> (-y, x)
        (0x8000, "", "", (500, -100, 600, 0)),  # reflection about x
        (0, "4120000000000000", "", (500, 0, 700, 200)),  # magnification 2
        (0x8000, "4120000000000000", "425A000000000000", (500, 0, 700, 200)),  # reflect, x2, 90
        (0, "", "42B4000000000000", (400, -100, 500, 0)),  # 180 degrees
    ],
)
def test_reference_transforms(strans: int, mag: str, angle: str, expected: tuple[int, ...]) -> None:
    data = library(
        bgnstr("LEAF") + boundary(1, 0, *SQUARE) + ENDSTR,
        bgnstr("TOP") + sref("LEAF", 500, 0, strans, mag, angle) + ENDSTR,
    )
    assert read(data).bbox == pytest.approx(expected)


def test_nested_references_compose() -> None:
    data = library(
        bgnstr("A") + boundary(1, 0, 0, 0, 10, 0, 10, 20, 0, 20, 0, 0) + ENDSTR,
        bgnstr("B")
        + sref("A", 100, 0, 0, "", "425A000000000000")
        + ENDSTR,  # A rotated 90 -> (80..100, 0..10)
        bgnstr("C") + sref("B", 0, 1000, 0x8000) + sref("B", 5000, 1000, 0x8000) + ENDSTR,
    )
    s = read(data)
    assert s.top_cells == ["C"]
    assert s.hierarchy == {"B": {"A": 1}, "C": {"B": 2}}
    assert s.bbox == pytest.approx((80, 990, 5100, 1000))


def test_several_top_cells_have_one_box_each() -> None:
    data = library(bgnstr("X") + boundary(1, 0, *SQUARE) + ENDSTR, bgnstr("Y") + ENDSTR)
    s = read(data)
    assert s.top_cells == ["X", "Y"]
    assert s.top_cell == "" and s.bbox is None
    assert s.boxes == {"X": (0, 0, 100, 100), "Y": None}


# -- findings ------------------------------------------------------------------------------------------


def test_degenerate_geometry_and_undefined_cells_are_findings() -> None:
    data = library(
        bgnstr("TOP")
        + boundary(1, 0, 0, 0, 100, 0, 200, 0, 0, 0)  # collinear: zero area
        + boundary(1, 0, 0, 0, 100, 0, 0, 0)  # 3 points
        + boundary(1, 0, 0, 0, 100, 0, 100, 100, 0, 100)  # not closed
        + sref("GHOST", 0, 0)
        + ENDSTR
    )
    s = read(data)
    codes = {f["code"]: f for f in s.findings}
    assert set(codes) == {"zero_area_boundary", "degenerate_boundary", "open_boundary", "undefined_cell"}
    assert codes["undefined_cell"]["examples"] == [{"cell": "TOP", "referenced": "GHOST"}]
    assert codes["zero_area_boundary"]["examples"][0]["cell"] == "TOP"
    assert isinstance(codes["zero_area_boundary"]["examples"][0]["offset"], int)


def test_recursive_hierarchy_is_a_finding_not_a_hang() -> None:
    data = library(
        bgnstr("TOP") + sref("A", 0, 0) + ENDSTR,
        bgnstr("A") + sref("B", 0, 0) + ENDSTR,
        bgnstr("B") + sref("A", 0, 0) + boundary(1, 0, *SQUARE) + ENDSTR,
    )
    s = read(data)
    assert [f["code"] for f in s.findings] == ["recursive_reference"]


def test_findings_keep_a_count_and_bounded_examples() -> None:
    data = library(bgnstr("T") + boundary(1, 0, 0, 0, 1, 0, 2, 0, 0, 0) * 50 + ENDSTR)
    (finding,) = read(data, max_examples=5).findings
    assert finding["count"] == 50 and len(finding["examples"]) == 5


# -- broken files --------------------------------------------------------------------------------------


def test_bad_magic() -> None:
    with pytest.raises(GdsiiMagicError) as info:
        read(b"%SEMI-OASIS\r\n" + bytes(100))
    assert info.value.details["offset"] == 0


def test_truncated_inside_a_record() -> None:
    data = library(bgnstr("T") + boundary(1, 0, *SQUARE) + ENDSTR)
    cut = data[: len(data) - 30]
    with pytest.raises(GdsiiTruncatedError) as info:
        read(cut)
    assert info.value.details["record"] and isinstance(info.value.details["offset"], int)


def test_truncated_before_endlib() -> None:
    data = library(bgnstr("T") + ENDSTR)[:-4]
    with pytest.raises(GdsiiTruncatedError, match="ENDLIB"):
        read(data)


def test_record_length_that_does_not_fit_its_data_type() -> None:
    bad_units = bytes.fromhex("0010 0305") + bytes(12)  # UNITS must hold two 8-byte reals
    with pytest.raises(GdsiiRecordError) as info:
        read(HEADER + BGNLIB + LIBNAME + bad_units + ENDLIB)
    assert info.value.details == {"offset": len(HEADER + BGNLIB + LIBNAME), "record": "UNITS"}


def test_odd_record_length() -> None:
    with pytest.raises(GdsiiRecordError, match="odd"):
        read(HEADER + bytes.fromhex("0007 0206") + b"ABC" + ENDLIB)


def test_xy_with_half_a_point() -> None:
    broken = rec(0x08, 0) + rec(0x0D, 2, b"\0\1") + rec(0x0E, 2, b"\0\0") + rec(0x10, 3, bytes(12)) + ENDEL
    with pytest.raises(GdsiiRecordError, match="whole points"):
        read(library(bgnstr("T") + broken + ENDSTR))


def test_element_outside_a_structure() -> None:
    with pytest.raises(GdsiiStructureError, match="outside a structure"):
        read(library(boundary(1, 0, *SQUARE)))


def test_missing_endel() -> None:
    broken = rec(0x08, 0) + rec(0x0D, 2, b"\0\1") + xy(*SQUARE)
    with pytest.raises(GdsiiStructureError, match="missing ENDEL"):
        read(library(bgnstr("T") + broken + ENDSTR))


def test_every_error_is_a_pattern_error_naming_where() -> None:
    for data in (b"", b"\0\6\0\2", HEADER + b"\0"):
        with pytest.raises(GdsiiError) as info:
            read(data)
        assert {"offset", "record"} <= set(info.value.details)


# -- the sample writer agrees with the hand-built bytes ------------------------------------------


def test_sample_writer_matches_the_manual() -> None:
    assert eda.gds_record(0x04, 0) == ENDLIB
    assert eda.gds_header("MYLIB")[:6] == HEADER
    assert eda.gds_rect(1, 0, 0, 0, 100, 100) == boundary(1, 0, *SQUARE)


def test_padding_after_endlib_is_ignored() -> None:
    data = eda.gds_library("L", {"T": [eda.gds_rect(1, 0, 0, 0, 5, 5)]})
    assert len(data) % 2048 == 0
    assert read(data).cells == ["T"]


def test_large_stream_is_read_in_bounded_chunks() -> None:
    out = io.BytesIO()
    eda.write_large_gdsii(out, 25_000, per_cell=10_000)
    out.seek(0)

    class CountingReader(io.RawIOBase):
        def __init__(self, inner: io.BytesIO) -> None:
            self.inner = inner
            self.biggest = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            assert n > 0, "the reader must never ask for the whole file"
            self.biggest = max(self.biggest, n)
            return self.inner.read(n)

    stream = CountingReader(out)
    s = read_gdsii(stream, chunk_size=64 * 1024)  # type: ignore[arg-type]
    assert stream.biggest <= 64 * 1024
    assert s.elements["boundary"] == 25_000
    assert s.cell_count == 4 and s.top_cells == ["TOP"]
