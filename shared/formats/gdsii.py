"""GDSII Stream (Calma GDS II, release 6/7) reader: the whole file as a stream of records, in bounded memory.

Why hand-written: the usual library, ``gdstk``, publishes no Linux arm64 wheel that fits the
Lambda runtime (it needs a native build with qhull and zlib), and ``gdspy`` is unmaintained and
needs a compiler too. The summary this project needs (library, units, cells, hierarchy, layers,
the top cell's bounding box, validation findings) is a single forward pass over the records.

What is read
    Every record of the file, from ``HEADER`` to ``ENDLIB``, through any binary file object
    (a local file, the ranged reader over the access point, a streamed GET body), in chunks of
    ``chunk_size`` bytes. Memory depends on the number of cells, layers and *distinct*
    reference transforms, never on the file size: a boundary's points are folded into its cell's
    bounding box as soon as its record is read, and references to the same cell with the same
    rotation, magnification and reflection are folded into one box of their origins (the union
    of translated copies of a box is that box widened by the origins' box, exactly).

Record layout (the GDSII Stream Format Manual, release 6.0)
    Each record is a 2-byte big-endian length (header included, even, at least 4), a record type
    byte and a data type byte: 0 no data, 1 bit array (2 bytes), 2 2-byte signed integers, 3
    4-byte signed integers, 4 4-byte real (unused), 5 8-byte real, 6 ASCII (padded with NUL to an
    even length). An 8-byte real is excess-64 base-16: sign bit, 7-bit exponent, 56-bit mantissa,
    value = (-1)^s * mantissa/2^56 * 16^(exponent-64) (:func:`excess64_to_float`).

Bounding boxes
    A cell's box is the union of its boundaries, boxes, paths (points widened by half the width;
    a negative, absolute, width counts the same) and the boxes of the cells it references,
    through each reference's transform in the manual's order: reflection about the x axis, then
    magnification, then rotation counter-clockwise, then translation. An AREF's instances sit on
    the lattice spanned by its three points; its corners bound them. Texts and nodes have no
    extent. With a rotation that is not a multiple of 90 degrees the referenced box is rotated as
    a box, so the result may be slightly larger than the exact geometry. The absolute flags of
    ``STRANS`` are counted (``absolute_transforms``) and otherwise treated as relative.

Errors (all :class:`GdsiiError`, a :class:`~shared.errors.PatternError`, with ``offset`` and
``record`` in ``details``)
    :class:`GdsiiMagicError` the file does not start with a HEADER record;
    :class:`GdsiiTruncatedError` it ends inside a record or before ENDLIB;
    :class:`GdsiiRecordError` a record length that is odd, shorter than its header, or does not
    fit its data type (a UNITS record that is not 16 bytes, an XY record with half a point...);
    :class:`GdsiiStructureError` records out of order (an element outside a structure, ENDEL with
    no element, an unknown record type).

Findings (not errors: the file is readable, the design has a problem) are :class:`Finding` rows:
``zero_area_boundary``, ``degenerate_boundary`` (fewer than 4 points), ``open_boundary`` (first
point is not the last), ``degenerate_path`` (fewer than 2 points), ``undefined_cell`` (a
reference to a cell the library does not define), ``duplicate_cell``, ``recursive_reference``.
Each code keeps a count and its first ``max_examples`` examples.

API
    ``read_gdsii(stream, *, chunk_size=1 MiB, max_examples=20) -> GdsiiSummary``
    ``iter_records(stream, *, chunk_size=1 MiB) -> Iterator[Record]`` (offset, type, data type, payload)
    ``excess64_to_float(bytes) -> float`` and ``float_to_excess64(float) -> bytes``
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

from shared.errors import PatternError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1 << 20

# Record type -> name, in type order (0x00 HEADER ... 0x3B LIBSECUR).
_NAMES = (
    "HEADER BGNLIB LIBNAME UNITS ENDLIB BGNSTR STRNAME ENDSTR BOUNDARY PATH SREF AREF TEXT "
    "LAYER DATATYPE WIDTH XY ENDEL SNAME COLROW TEXTNODE NODE TEXTTYPE PRESENTATION SPACING "
    "STRING STRANS MAG ANGLE UINTEGER USTRING REFLIBS FONTS PATHTYPE GENERATIONS ATTRTABLE "
    "STYPTABLE STRTYPE ELFLAGS ELKEY LINKTYPE LINKKEYS NODETYPE PROPATTR PROPVALUE BOX BOXTYPE "
    "PLEX BGNEXTN ENDEXTN TAPENUM TAPECODE STRCLASS RESERVED FORMAT MASK ENDMASKS LIBDIRSIZE "
    "SRFNAME LIBSECUR"
)
RECORD_NAMES: dict[int, str] = dict(enumerate(_NAMES.split()))
HEADER, BGNLIB, LIBNAME, UNITS, ENDLIB, BGNSTR, STRNAME, ENDSTR = range(8)
BOUNDARY, PATH, SREF, AREF, TEXT, LAYER, DATATYPE, WIDTH, XY, ENDEL, SNAME, COLROW = range(8, 20)
NODE, TEXTTYPE, STRANS, MAG, ANGLE, BOX, BOXTYPE = 0x15, 0x16, 0x1A, 0x1B, 0x1C, 0x2D, 0x2E

NO_DATA, BIT_ARRAY, INT16, INT32, REAL4, REAL8, ASCII = range(7)
# Bytes per value of each data type (0 for no data; ASCII counts bytes).
_WIDTH_OF = {NO_DATA: 0, BIT_ARRAY: 2, INT16: 2, INT32: 4, REAL4: 4, REAL8: 8, ASCII: 1}
# The data type each record the reader interprets must carry, and its exact payload size if fixed.
_EXPECTED: dict[int, tuple[int, int | None]] = {
    HEADER: (INT16, 2),
    BGNLIB: (INT16, 24),
    LIBNAME: (ASCII, None),
    UNITS: (REAL8, 16),
    ENDLIB: (NO_DATA, 0),
    BGNSTR: (INT16, 24),
    STRNAME: (ASCII, None),
    ENDSTR: (NO_DATA, 0),
    BOUNDARY: (NO_DATA, 0),
    PATH: (NO_DATA, 0),
    SREF: (NO_DATA, 0),
    AREF: (NO_DATA, 0),
    TEXT: (NO_DATA, 0),
    NODE: (NO_DATA, 0),
    BOX: (NO_DATA, 0),
    ENDEL: (NO_DATA, 0),
    LAYER: (INT16, 2),
    DATATYPE: (INT16, 2),
    TEXTTYPE: (INT16, 2),
    BOXTYPE: (INT16, 2),
    WIDTH: (INT32, 4),
    XY: (INT32, None),
    SNAME: (ASCII, None),
    COLROW: (INT16, 4),
    STRANS: (BIT_ARRAY, 2),
    MAG: (REAL8, 8),
    ANGLE: (REAL8, 8),
}
_ELEMENTS = {
    BOUNDARY: "boundary",
    PATH: "path",
    SREF: "sref",
    AREF: "aref",
    TEXT: "text",
    NODE: "node",
    BOX: "box",
}
_STRANS_REFLECT, _STRANS_ABS_MAG, _STRANS_ABS_ANGLE = 0x8000, 0x0004, 0x0002


class GdsiiError(PatternError, ValueError):
    """The bytes are not a readable GDSII stream; ``details`` name the record and its offset."""


class GdsiiMagicError(GdsiiError):
    """The file does not start with a GDSII HEADER record."""


class GdsiiTruncatedError(GdsiiError):
    """The file ends inside a record, or before the ENDLIB record."""


class GdsiiRecordError(GdsiiError):
    """A record's length does not fit its header or its data type."""


class GdsiiStructureError(GdsiiError):
    """Records appear in an order the format does not allow, or a record type is unknown."""


class Record(NamedTuple):
    offset: int
    rtype: int
    dtype: int
    data: bytes

    @property
    def name(self) -> str:
        return record_name(self.rtype)


def record_name(rtype: int) -> str:
    return RECORD_NAMES.get(rtype, f"0x{rtype:02X}")


def excess64_to_float(raw: bytes) -> float:
    """The value of one GDSII 8-byte real (excess-64, base 16, 56-bit mantissa)."""
    if len(raw) != 8:
        raise ValueError(f"a GDSII real is 8 bytes, got {len(raw)}")
    word = int.from_bytes(raw, "big")
    mantissa = word & ((1 << 56) - 1)
    exponent = (word >> 56) & 0x7F
    value = math.ldexp(mantissa, 4 * (exponent - 64) - 56)
    return -value if word >> 63 else value


def float_to_excess64(value: float) -> bytes:
    """The 8-byte GDSII real nearest to ``value`` (for writers and tests)."""
    if value == 0 or not math.isfinite(value):
        if value != 0:
            raise ValueError(f"a GDSII real must be finite, got {value}")
        return bytes(8)
    sign = 1 if value < 0 else 0
    magnitude = abs(value)
    exponent = 64
    while magnitude >= 1:
        magnitude /= 16
        exponent += 1
    while magnitude < 1 / 16:
        magnitude *= 16
        exponent -= 1
    mantissa = round(magnitude * (1 << 56))
    if mantissa >= 1 << 56:  # rounding carried into a new hex digit
        mantissa >>= 4
        exponent += 1
    if not 0 <= exponent <= 127:
        raise ValueError(f"{value} is outside the range of a GDSII real")
    return ((sign << 63) | (exponent << 56) | mantissa).to_bytes(8, "big")


def iter_records(stream: BinaryIO, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[Record]:
    """Every record of ``stream`` in order, read ``chunk_size`` bytes at a time.

    Stops after ENDLIB (the NUL padding writers add up to a 2048-byte boundary is not read).
    Raises :class:`GdsiiTruncatedError` at an end inside a record or before ENDLIB and
    :class:`GdsiiRecordError` for a length that is odd or shorter than the header.
    """
    buf = b""
    pos = 0
    base = 0  # file offset of buf[0]
    eof = False
    first = True
    while True:
        if len(buf) - pos < 4 and not eof:
            buf, base, pos, eof = _refill(stream, buf, base, pos, chunk_size)
        if len(buf) - pos < 4:
            offset = base + pos
            if len(buf) - pos == 0:
                raise GdsiiTruncatedError(
                    "the file ends before its ENDLIB record", offset=offset, record="ENDLIB"
                )
            raise GdsiiTruncatedError(
                "the file ends inside a record header", offset=offset, record="(record header)"
            )
        length, rtype, dtype = struct.unpack_from(">HBB", buf, pos)
        offset = base + pos
        if first:
            if rtype != HEADER or dtype != INT16 or length != 6:
                raise GdsiiMagicError(
                    "not a GDSII stream: the first record is not a HEADER (length 6, type 0x0002)",
                    offset=0,
                    record=record_name(rtype),
                    found=buf[pos : pos + 4].hex(),
                )
            first = False
        if length < 4 or length % 2:
            raise GdsiiRecordError(
                f"record length {length} is {'odd' if length % 2 else 'shorter than its 4-byte header'}",
                offset=offset,
                record=record_name(rtype),
            )
        if len(buf) - pos < length and not eof:
            buf, base, pos, eof = _refill(stream, buf, base, pos, max(chunk_size, length))
        if len(buf) - pos < length:
            raise GdsiiTruncatedError(
                f"the file ends inside a {record_name(rtype)} record of {length} bytes "
                f"({len(buf) - pos} present)",
                offset=offset,
                record=record_name(rtype),
            )
        yield Record(offset, rtype, dtype, buf[pos + 4 : pos + length])
        pos += length
        if rtype == ENDLIB:
            return


def _refill(stream: BinaryIO, buf: bytes, base: int, pos: int, want: int) -> tuple[bytes, int, int, bool]:
    """Drop the consumed bytes and append up to ``want`` more; returns (buf, base, pos, eof)."""
    rest = buf[pos:]
    base += pos
    parts = [rest]
    have = len(rest)
    eof = False
    while have < want:
        chunk = stream.read(want - have)
        if not chunk:
            eof = True
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts), base, 0, eof


@dataclass
class Finding:
    """A design problem in a readable file, with its count and first examples."""

    code: str
    message: str
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "count": self.count, "examples": self.examples}


FINDING_MESSAGES = {
    "zero_area_boundary": "boundary encloses no area",
    "degenerate_boundary": "boundary has fewer than 4 points",
    "open_boundary": "boundary's last point is not its first",
    "degenerate_path": "path has fewer than 2 points",
    "undefined_cell": "reference to a cell the library does not define",
    "duplicate_cell": "cell defined more than once",
    "recursive_reference": "cell references itself through its hierarchy",
    "zero_size_rectangle": "rectangle has zero width or height",
}


class Findings:
    """Findings by code, each keeping a count and its first ``max_examples`` examples."""

    def __init__(self, max_examples: int = 20) -> None:
        self.max_examples = max_examples
        self.by_code: dict[str, Finding] = {}

    def add(self, code: str, **example: Any) -> None:
        finding = self.by_code.get(code)
        if finding is None:
            finding = self.by_code[code] = Finding(code, FINDING_MESSAGES.get(code, code))
        finding.count += 1
        if len(finding.examples) < self.max_examples:
            finding.examples.append(example)

    def to_list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in sorted(self.by_code.values(), key=lambda f: f.code)]


Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


def _union(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


@dataclass
class _Cell:
    name: str
    offset: int
    box: Box | None = None
    # (child, reflect, mag, angle) -> [ox_min, oy_min, ox_max, oy_max, instances]
    refs: dict[tuple[str, bool, float, float], list[float]] = field(default_factory=dict)
    elements: int = 0


@dataclass
class GdsiiSummary:
    """What one pass over a GDSII file found. Coordinates are database units unless named ``_um``."""

    version: int
    library: str
    user_unit: float  # user units per database unit (UNITS, first value)
    db_unit_m: float  # metres per database unit (UNITS, second value)
    modified: str
    cells: list[str]
    top_cells: list[str]
    hierarchy: dict[str, dict[str, int]]  # parent -> child -> instances
    layers: dict[tuple[int, int], int]  # (layer, datatype) -> elements
    elements: dict[str, int]
    boxes: dict[str, Box | None]  # top cell -> bounding box
    findings: list[dict[str, Any]]
    records: int
    bytes_read: int
    absolute_transforms: int = 0

    @property
    def cell_count(self) -> int:
        return len(self.cells)

    @property
    def top_cell(self) -> str:
        """The single top cell, or "" when there are none or several."""
        return self.top_cells[0] if len(self.top_cells) == 1 else ""

    @property
    def bbox(self) -> Box | None:
        """The top cell's bounding box (None without a single top cell or with no geometry)."""
        return self.boxes.get(self.top_cell) if self.top_cell else None

    def bbox_um(self) -> Box | None:
        box = self.bbox
        if box is None:
            return None
        scale = self.db_unit_m * 1e6
        return (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)

    def to_dict(self) -> dict[str, Any]:
        box = self.bbox
        return {
            "format": "gdsii",
            "version": self.version,
            "library": self.library,
            "user_unit": self.user_unit,
            "db_unit_m": self.db_unit_m,
            "modified": self.modified,
            "cell_count": self.cell_count,
            "top_cells": self.top_cells,
            "top_cell": self.top_cell,
            "hierarchy": self.hierarchy,
            "layers": [
                {"layer": layer, "datatype": datatype, "elements": n}
                for (layer, datatype), n in sorted(self.layers.items())
            ],
            "elements": dict(sorted(self.elements.items())),
            "bbox": list(box) if box else None,
            "bbox_um": list(self.bbox_um() or ()) or None,
            "findings": self.findings,
            "records": self.records,
            "bytes_read": self.bytes_read,
            "absolute_transforms": self.absolute_transforms,
        }


def _check(record: Record) -> None:
    expected = _EXPECTED.get(record.rtype)
    size = len(record.data)
    if expected is None:
        if record.rtype not in RECORD_NAMES:
            raise GdsiiStructureError(
                f"unknown record type 0x{record.rtype:02X}", offset=record.offset, record=record.name
            )
        width = _WIDTH_OF.get(record.dtype)
        if width is None:
            raise GdsiiRecordError(
                f"unknown data type {record.dtype}", offset=record.offset, record=record.name
            )
        if width and size % width:
            raise GdsiiRecordError(
                f"{size} payload bytes do not fit data type {record.dtype} ({width}-byte values)",
                offset=record.offset,
                record=record.name,
            )
        return
    dtype, fixed = expected
    if record.dtype != dtype:
        raise GdsiiRecordError(
            f"{record.name} carries data type {record.dtype}, expected {dtype}",
            offset=record.offset,
            record=record.name,
        )
    if fixed is not None and size != fixed:
        raise GdsiiRecordError(
            f"{record.name} record of {size + 4} bytes, expected {fixed + 4}",
            offset=record.offset,
            record=record.name,
        )
    if record.rtype == XY and (size == 0 or size % 8):
        raise GdsiiRecordError(
            f"XY record of {size + 4} bytes does not hold whole points (8 bytes each)",
            offset=record.offset,
            record=record.name,
        )


def _ascii(data: bytes) -> str:
    return data.rstrip(b"\0").decode("latin-1")


def _date(data: bytes) -> str:
    year, month, day, hour, minute, second = struct.unpack(">6h", data[:12])
    if year < 1900:  # some writers store years since 1900
        year += 1900
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def _area2(xs: tuple[int, ...], ys: tuple[int, ...]) -> int:
    """Twice the signed area (shoelace) of the closed polygon."""
    n = len(xs)
    return sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))


class _Element:
    __slots__ = (
        "angle",
        "colrow",
        "datatype",
        "kind",
        "layer",
        "mag",
        "offset",
        "sname",
        "strans",
        "width",
        "xy",
    )

    def __init__(self, kind: int, offset: int) -> None:
        self.kind = kind
        self.offset = offset
        self.layer: int | None = None
        self.datatype = 0
        self.width = 0
        self.xy: tuple[int, ...] = ()
        self.sname = ""
        self.strans = 0
        self.mag = 1.0
        self.angle = 0.0
        self.colrow = (1, 1)


def read_gdsii(
    stream: BinaryIO, *, chunk_size: int = DEFAULT_CHUNK_SIZE, max_examples: int = 20
) -> GdsiiSummary:
    """Read the whole GDSII stream and summarise it (see the module docstring)."""
    findings = Findings(max_examples)
    cells: dict[str, _Cell] = {}
    order: list[str] = []
    layers: dict[tuple[int, int], int] = {}
    elements: dict[str, int] = {}
    version = 0
    library = ""
    modified = ""
    units: tuple[float, float] | None = None
    cell: _Cell | None = None
    element: _Element | None = None
    records = 0
    end = 0
    absolute = 0
    pending_name = False

    for record in iter_records(stream, chunk_size=chunk_size):
        records += 1
        end = record.offset + len(record.data) + 4
        _check(record)
        rtype, data = record.rtype, record.data
        if element is not None:
            if rtype == ENDEL:
                absolute += _finish(element, cell, layers, elements, findings)  # type: ignore[arg-type]
                element = None
            elif rtype == XY:
                element.xy = struct.unpack(f">{len(data) // 4}i", data)
            elif rtype == LAYER:
                element.layer = struct.unpack(">h", data)[0]
            elif rtype in (DATATYPE, TEXTTYPE, BOXTYPE):
                element.datatype = struct.unpack(">h", data)[0]
            elif rtype == WIDTH:
                element.width = abs(struct.unpack(">i", data)[0])
            elif rtype == SNAME:
                element.sname = _ascii(data)
            elif rtype == STRANS:
                element.strans = struct.unpack(">H", data)[0]
            elif rtype == MAG:
                element.mag = excess64_to_float(data)
            elif rtype == ANGLE:
                element.angle = excess64_to_float(data)
            elif rtype == COLROW:
                element.colrow = struct.unpack(">hh", data)
            elif rtype in _ELEMENTS or rtype in (BGNSTR, ENDSTR, ENDLIB, STRNAME):
                raise GdsiiStructureError(
                    f"{record.name} inside the {_ELEMENTS[element.kind].upper()} element started at "
                    f"offset {element.offset} (missing ENDEL)",
                    offset=record.offset,
                    record=record.name,
                )
            continue
        if rtype in _ELEMENTS:
            if cell is None:
                raise GdsiiStructureError(
                    f"{record.name} element outside a structure", offset=record.offset, record=record.name
                )
            element = _Element(rtype, record.offset)
        elif rtype == BGNSTR:
            if cell is not None or pending_name:
                raise GdsiiStructureError(
                    "BGNSTR inside a structure (missing ENDSTR)", offset=record.offset, record=record.name
                )
            pending_name = True
        elif rtype == STRNAME:
            if not pending_name:
                raise GdsiiStructureError("STRNAME without BGNSTR", offset=record.offset, record=record.name)
            pending_name = False
            name = _ascii(data)
            if name in cells:
                findings.add("duplicate_cell", cell=name, offset=record.offset)
                cell = cells[name]
            else:
                cell = cells[name] = _Cell(name, record.offset)
                order.append(name)
        elif rtype == ENDSTR:
            if cell is None:
                raise GdsiiStructureError("ENDSTR without BGNSTR", offset=record.offset, record=record.name)
            cell = None
        elif rtype == HEADER:
            if records != 1:
                raise GdsiiStructureError("a second HEADER record", offset=record.offset, record=record.name)
            version = struct.unpack(">h", data)[0]
        elif rtype == BGNLIB:
            modified = _date(data)
        elif rtype == LIBNAME:
            library = _ascii(data)
        elif rtype == UNITS:
            units = (excess64_to_float(data[:8]), excess64_to_float(data[8:]))
            if not (units[0] > 0 and units[1] > 0):
                raise GdsiiRecordError(
                    f"UNITS must be positive, got {units[0]!r} and {units[1]!r}",
                    offset=record.offset,
                    record=record.name,
                )
        elif rtype == ENDLIB:
            if cell is not None or pending_name:
                raise GdsiiStructureError(
                    "ENDLIB inside a structure (missing ENDSTR)", offset=record.offset, record=record.name
                )
        elif rtype in (ENDEL, XY, SNAME, COLROW, LAYER, DATATYPE, WIDTH, STRANS):
            raise GdsiiStructureError(
                f"{record.name} outside an element", offset=record.offset, record=record.name
            )
    if units is None:
        raise GdsiiStructureError("the library has no UNITS record", offset=end, record="UNITS")

    hierarchy = {name: _children(c) for name, c in cells.items() if c.refs}
    referenced = {child for children in hierarchy.values() for child in children}
    for parent, children in hierarchy.items():
        for child in children:
            if child not in cells:
                findings.add("undefined_cell", cell=parent, referenced=child)
    tops = [name for name in order if name not in referenced]
    boxes: dict[str, Box | None] = {}
    memo: dict[str, Box | None] = {}
    for top in tops:
        boxes[top] = _cell_box(top, cells, memo, set(), findings)
    if not tops and cells:  # every cell is referenced: the hierarchy is a cycle
        for name in order:
            _cell_box(name, cells, memo, set(), findings)
    return GdsiiSummary(
        version=version,
        library=library,
        user_unit=units[0],
        db_unit_m=units[1],
        modified=modified,
        cells=order,
        top_cells=tops,
        hierarchy=hierarchy,
        layers=layers,
        elements=elements,
        boxes=boxes,
        findings=findings.to_list(),
        records=records,
        bytes_read=end,
        absolute_transforms=absolute,
    )


def _children(cell: _Cell) -> dict[str, int]:
    out: dict[str, int] = {}
    for (child, *_), group in cell.refs.items():
        out[child] = out.get(child, 0) + int(group[4])
    return out


def _finish(
    el: _Element,
    cell: _Cell,
    layers: dict[tuple[int, int], int],
    elements: dict[str, int],
    findings: Findings,
) -> int:
    """Fold one finished element into its cell; returns 1 for a reference with absolute flags."""
    kind = _ELEMENTS[el.kind]
    elements[kind] = elements.get(kind, 0) + 1
    cell.elements += 1
    if el.layer is not None:
        key = (el.layer, el.datatype)
        layers[key] = layers.get(key, 0) + 1
    xy = el.xy
    if not xy and el.kind != NODE:
        raise GdsiiStructureError(
            f"{kind.upper()} element without an XY record", offset=el.offset, record=kind.upper()
        )
    xs, ys = xy[0::2], xy[1::2]
    where = {"cell": cell.name, "offset": el.offset, "layer": el.layer, "datatype": el.datatype}
    if el.kind == BOUNDARY:
        if len(xs) < 4:
            findings.add("degenerate_boundary", points=len(xs), **where)
        elif xs[0] != xs[-1] or ys[0] != ys[-1]:
            findings.add("open_boundary", **where)
        elif _area2(xs, ys) == 0:
            findings.add("zero_area_boundary", **where)
        cell.box = _union(cell.box, (min(xs), min(ys), max(xs), max(ys)))
    elif el.kind == BOX:
        cell.box = _union(cell.box, (min(xs), min(ys), max(xs), max(ys)))
    elif el.kind == PATH:
        if len(xs) < 2:
            findings.add("degenerate_path", points=len(xs), **where)
        half = el.width / 2
        cell.box = _union(cell.box, (min(xs) - half, min(ys) - half, max(xs) + half, max(ys) + half))
    elif el.kind in (SREF, AREF):
        if not el.sname:
            raise GdsiiStructureError(
                f"{kind.upper()} element without an SNAME record", offset=el.offset, record=kind.upper()
            )
        origins: list[tuple[float, float]]
        if el.kind == SREF:
            origins = [(xs[0], ys[0])]
            instances = 1
        else:
            if len(xs) != 3:
                raise GdsiiRecordError(
                    f"AREF XY holds {len(xs)} points, expected 3", offset=el.offset, record="AREF"
                )
            cols, rows = el.colrow
            if cols < 1 or rows < 1:
                raise GdsiiRecordError(
                    f"AREF COLROW {cols}x{rows} is not positive", offset=el.offset, record="AREF"
                )
            (x0, y0), (x1, y1), (x2, y2) = zip(xs, ys, strict=True)
            cx, cy = (x1 - x0) / cols, (y1 - y0) / cols
            rx, ry = (x2 - x0) / rows, (y2 - y0) / rows
            origins = [
                (x0 + i * cx + j * rx, y0 + i * cy + j * ry) for i in (0, cols - 1) for j in (0, rows - 1)
            ]
            instances = cols * rows
        ref_key = (el.sname, bool(el.strans & _STRANS_REFLECT), el.mag, el.angle % 360.0)
        group = cell.refs.get(ref_key)
        ox = [o[0] for o in origins]
        oy = [o[1] for o in origins]
        if group is None:
            cell.refs[ref_key] = [min(ox), min(oy), max(ox), max(oy), instances]
        else:
            group[0] = min(group[0], *ox)
            group[1] = min(group[1], *oy)
            group[2] = max(group[2], *ox)
            group[3] = max(group[3], *oy)
            group[4] += instances
        return 1 if el.strans & (_STRANS_ABS_MAG | _STRANS_ABS_ANGLE) else 0
    return 0


def transform_box(box: Box, *, reflect: bool, mag: float, angle: float) -> Box:
    """The box of ``box`` reflected about x (first), magnified, then rotated counter-clockwise (degrees)."""
    quarter = angle / 90.0
    cos: float
    sin: float
    if quarter == int(quarter):  # exact for multiples of 90 degrees
        cos, sin = ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[int(quarter) % 4]
    else:
        rad = math.radians(angle)
        cos, sin = math.cos(rad), math.sin(rad)
    xs: list[float] = []
    ys: list[float] = []
    for x, y in ((box[0], box[1]), (box[0], box[3]), (box[2], box[1]), (box[2], box[3])):
        if reflect:
            y = -y
        x, y = x * mag, y * mag
        xs.append(x * cos - y * sin)
        ys.append(x * sin + y * cos)
    return (min(xs), min(ys), max(xs), max(ys))


def _cell_box(
    name: str, cells: dict[str, _Cell], memo: dict[str, Box | None], visiting: set[str], findings: Findings
) -> Box | None:
    if name in memo:
        return memo[name]
    cell = cells.get(name)
    if cell is None:
        return None
    if name in visiting:
        findings.add("recursive_reference", cell=name)
        return None
    visiting.add(name)
    box = cell.box
    for (child, reflect, mag, angle), group in cell.refs.items():
        child_box = _cell_box(child, cells, memo, visiting, findings)
        if child_box is None:
            continue
        t = transform_box(child_box, reflect=reflect, mag=mag, angle=angle)
        box = _union(box, (t[0] + group[0], t[1] + group[1], t[2] + group[2], t[3] + group[3]))
    visiting.discard(name)
    memo[name] = box
    return box
