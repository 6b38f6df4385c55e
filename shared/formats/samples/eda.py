"""Writers of GDSII and OASIS sample files: small libraries for demos, large streams for the bench.

The readers' own tests do not depend on these writers alone: they also build files byte by byte
from the specifications (``tests/shared/formats/test_gdsii.py``, ``test_oasis.py``).
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from shared.formats.gdsii import float_to_excess64

logger = logging.getLogger(__name__)


# -- GDSII ---------------------------------------------------------------------------------------


def gds_record(rtype: int, dtype: int, payload: bytes = b"") -> bytes:
    if len(payload) % 2:
        payload += b"\0"
    return struct.pack(">HBB", len(payload) + 4, rtype, dtype) + payload


def gds_ascii(rtype: int, text: str) -> bytes:
    return gds_record(rtype, 6, text.encode("latin-1"))


def gds_int16(rtype: int, *values: int) -> bytes:
    return gds_record(rtype, 2, struct.pack(f">{len(values)}h", *values))


def gds_xy(points: Sequence[tuple[int, int]]) -> bytes:
    flat = [c for p in points for c in p]
    return gds_record(0x10, 3, struct.pack(f">{len(flat)}i", *flat))


_DATE = (2026, 1, 15, 9, 30, 0)


def gds_boundary(layer: int, datatype: int, points: Sequence[tuple[int, int]]) -> bytes:
    return b"".join(
        (
            gds_record(0x08, 0),
            gds_int16(0x0D, layer),
            gds_int16(0x0E, datatype),
            gds_xy(points),
            gds_record(0x11, 0),
        )
    )


def gds_rect(layer: int, datatype: int, x0: int, y0: int, x1: int, y1: int) -> bytes:
    return gds_boundary(layer, datatype, [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])


def gds_path(layer: int, datatype: int, width: int, points: Sequence[tuple[int, int]]) -> bytes:
    return b"".join(
        (
            gds_record(0x09, 0),
            gds_int16(0x0D, layer),
            gds_int16(0x0E, datatype),
            gds_record(0x0F, 3, struct.pack(">i", width)),
            gds_xy(points),
            gds_record(0x11, 0),
        )
    )


def gds_text(layer: int, texttype: int, x: int, y: int, text: str) -> bytes:
    return b"".join(
        (
            gds_record(0x0C, 0),
            gds_int16(0x0D, layer),
            gds_int16(0x16, texttype),
            gds_xy([(x, y)]),
            gds_ascii(0x19, text),
            gds_record(0x11, 0),
        )
    )


def _strans(reflect: bool, mag: float, angle: float) -> bytes:
    if not reflect and mag == 1 and angle == 0:
        return b""
    out = gds_record(0x1A, 1, struct.pack(">H", 0x8000 if reflect else 0))
    if mag != 1:
        out += gds_record(0x1B, 5, float_to_excess64(mag))
    if angle != 0:
        out += gds_record(0x1C, 5, float_to_excess64(angle))
    return out


def gds_sref(
    cell: str, x: int, y: int, *, reflect: bool = False, mag: float = 1.0, angle: float = 0.0
) -> bytes:
    return b"".join(
        (
            gds_record(0x0A, 0),
            gds_ascii(0x12, cell),
            _strans(reflect, mag, angle),
            gds_xy([(x, y)]),
            gds_record(0x11, 0),
        )
    )


def gds_aref(
    cell: str, cols: int, rows: int, origin: tuple[int, int], pitch: tuple[int, int], *, angle: float = 0.0
) -> bytes:
    x, y = origin
    return b"".join(
        (
            gds_record(0x0B, 0),
            gds_ascii(0x12, cell),
            _strans(False, 1.0, angle),
            gds_int16(0x13, cols, rows),
            gds_xy([(x, y), (x + cols * pitch[0], y), (x, y + rows * pitch[1])]),
            gds_record(0x11, 0),
        )
    )


def gds_header(library: str, *, user_unit: float = 1e-3, db_unit_m: float = 1e-9) -> bytes:
    return b"".join(
        (
            gds_int16(0x00, 600),
            gds_int16(0x01, *_DATE, *_DATE),
            gds_ascii(0x02, library),
            gds_record(0x03, 5, float_to_excess64(user_unit) + float_to_excess64(db_unit_m)),
        )
    )


def gds_cell(name: str, body: Iterable[bytes]) -> bytes:
    return gds_int16(0x05, *_DATE, *_DATE) + gds_ascii(0x06, name) + b"".join(body) + gds_record(0x07, 0)


def gds_library(
    library: str, cells: Mapping[str, Sequence[bytes]], *, user_unit: float = 1e-3, db_unit_m: float = 1e-9
) -> bytes:
    data = gds_header(library, user_unit=user_unit, db_unit_m=db_unit_m)
    data += b"".join(gds_cell(name, body) for name, body in cells.items())
    data += gds_record(0x04, 0)
    return data + bytes(-len(data) % 2048)  # the customary padding to a 2048-byte boundary


def write_large_gdsii(out: BinaryIO, boundaries: int, *, per_cell: int = 10_000) -> int:
    """Stream a library of ``boundaries`` rectangles in cells of ``per_cell``, with a top cell placing them.

    Writes as it goes (memory does not grow with the size); returns the bytes written.
    """
    written = out.write(gds_header("BENCH"))
    names: list[str] = []
    remaining = boundaries
    index = 0
    while remaining > 0:
        name = f"BLOCK_{index}"
        names.append(name)
        written += out.write(gds_int16(0x05, *_DATE, *_DATE) + gds_ascii(0x06, name))
        n = min(per_cell, remaining)
        for i in range(n):
            x, y = (i % 100) * 200, (i // 100) * 200
            written += out.write(gds_rect(1 + i % 4, 0, x, y, x + 100, y + 150))
        written += out.write(gds_record(0x07, 0))
        remaining -= n
        index += 1
    top = [gds_sref(name, (i % 10) * 30_000, (i // 10) * 30_000) for i, name in enumerate(names)]
    written += out.write(gds_cell("TOP", top) + gds_record(0x04, 0))
    return written


# -- OASIS ---------------------------------------------------------------------------------------


def oas_uint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def oas_sint(value: int) -> bytes:
    return oas_uint((-value << 1) | 1 if value < 0 else value << 1)


def oas_string(text: str) -> bytes:
    raw = text.encode("latin-1")
    return oas_uint(len(raw)) + raw


def oas_real(value: float) -> bytes:
    """Integers as type 0/1, anything else as an IEEE double (type 7)."""
    if value == int(value):
        return oas_uint(0 if value >= 0 else 1) + oas_uint(abs(int(value)))
    return oas_uint(7) + struct.pack("<d", value)


@dataclass
class OasisCell:
    name: str
    rectangles: list[tuple[int, int, int, int, int, int]] = field(
        default_factory=list
    )  # layer, dt, x, y, w, h
    placements: list[tuple[str, int, int]] = field(default_factory=list)  # cell, x, y


def oas_rectangle(layer: int, datatype: int, x: int, y: int, w: int, h: int) -> bytes:
    return (
        bytes([20, 0x7B])
        + oas_uint(layer)
        + oas_uint(datatype)
        + oas_uint(w)
        + oas_uint(h)
        + oas_sint(x)
        + oas_sint(y)
    )


def oas_placement_by_ref(refnum: int, x: int, y: int) -> bytes:
    return bytes([17, 0xF0]) + oas_uint(refnum) + oas_sint(x) + oas_sint(y)


def oas_cblock(records: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp = compressor.compress(records) + compressor.flush()
    return oas_uint(34) + oas_uint(0) + oas_uint(len(records)) + oas_uint(len(comp)) + comp


def oasis_file(
    cells: Sequence[OasisCell], *, unit: float = 1000.0, compress: bool = False, explicit_names: bool = False
) -> bytes:
    """An OASIS file: CELL records by reference number, the CELLNAME table at the end.

    ``compress`` puts each cell's geometry in a CBLOCK; ``explicit_names`` writes CELLNAME records
    with explicit reference numbers (record 4) in reverse order instead of implicit ones (record 3).
    """
    refnums = {cell.name: i for i, cell in enumerate(cells)}
    body = b""
    for cell in cells:
        records = b"".join(oas_rectangle(*r) for r in cell.rectangles)
        records += b"".join(oas_placement_by_ref(refnums[c], x, y) for c, x, y in cell.placements)
        body += oas_uint(13) + oas_uint(refnums[cell.name])
        body += oas_cblock(records) if compress and records else records
    if explicit_names:
        names = b"".join(
            oas_uint(4) + oas_string(c.name) + oas_uint(refnums[c.name]) for c in reversed(cells)
        )
    else:
        names = b"".join(oas_uint(3) + oas_string(c.name) for c in cells)
    start = b"%SEMI-OASIS\r\n" + oas_uint(1) + oas_string("1.0") + oas_real(unit) + oas_uint(1)
    end_body = oas_uint(2) + bytes(12)  # table offsets: six (flag 0, offset 0) pairs
    padding = 256 - len(end_body) - 2 - 1  # a 2-byte padding length + the validation scheme
    end = end_body + oas_uint(padding) + bytes(padding) + oas_uint(0)
    return start + body + names + end
