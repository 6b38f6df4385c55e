"""OASIS (SEMI P39) reader: header, units, cell names through the name tables, layers, placements.

Why hand-written: the libraries that read OASIS (``gdstk``, KLayout's ``klayout`` module) are
native builds; ``gdstk`` has no Linux arm64 wheel for the Lambda runtime and ``klayout`` is a
large package with a Qt-free but still heavy core. What this project needs is one forward pass.

What is read
    The magic ``%SEMI-OASIS\\r\\n``, the START record (version string, the unit in grid steps per
    micron, read from the file as an OASIS real and never assumed, the table-offset flag), then
    every record to END, including the records inside each ``CBLOCK`` (compression type 0 is raw
    DEFLATE, RFC 1951: ``zlib`` with ``wbits=-15``). Every record is decoded field by field, so
    geometry, repetitions, point lists and properties are walked over exactly, not skipped by
    guess. Memory: the name tables, per-cell placement counts and layer counts, plus one CBLOCK's
    uncompressed bytes at a time (bounded by ``max_cblock_bytes``).

Cell names
    ``CELL`` records name a cell directly (record 14) or by reference number (record 13), which
    is resolved through the ``CELLNAME`` table once the whole file is read (the table may come
    after the cells, typically at the end). ``CELLNAME`` records carry an implicit reference
    number (record 3, numbered 0, 1, 2... in file order) or an explicit one (record 4); a file
    that mixes the two is refused, as the specification requires. ``PLACEMENT`` records name
    their cell the same two ways; a placement of a cell the file does not define is an
    ``undefined_cell`` finding, as in :mod:`shared.formats.gdsii`.

Errors (all :class:`OasisError`, with ``offset`` and ``record``; inside a CBLOCK ``offset`` is
within the uncompressed bytes and ``cblock_offset`` locates the CBLOCK)
    :class:`OasisMagicError` bad magic; :class:`OasisTruncatedError` the file ends inside a
    record or before END; :class:`OasisRecordError` an unknown record type, a field out of range,
    a CBLOCK whose sizes or data do not agree, a reference number with no name.

API
    ``read_oasis(stream, *, chunk_size=1 MiB, max_cblock_bytes=256 MiB) -> OasisSummary``
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from shared.errors import PatternError
from shared.formats.gdsii import Findings

logger = logging.getLogger(__name__)

MAGIC = b"%SEMI-OASIS\r\n"
DEFAULT_CHUNK_SIZE = 1 << 20
MAX_CBLOCK_BYTES = 256 << 20

RECORD_NAMES = {
    0: "PAD",
    1: "START",
    2: "END",
    3: "CELLNAME",
    4: "CELLNAME",
    5: "TEXTSTRING",
    6: "TEXTSTRING",
    7: "PROPNAME",
    8: "PROPNAME",
    9: "PROPSTRING",
    10: "PROPSTRING",
    11: "LAYERNAME",
    12: "LAYERNAME",
    13: "CELL",
    14: "CELL",
    15: "XYABSOLUTE",
    16: "XYRELATIVE",
    17: "PLACEMENT",
    18: "PLACEMENT",
    19: "TEXT",
    20: "RECTANGLE",
    21: "POLYGON",
    22: "PATH",
    23: "TRAPEZOID",
    24: "TRAPEZOID",
    25: "TRAPEZOID",
    26: "CTRAPEZOID",
    27: "CIRCLE",
    28: "PROPERTY",
    29: "PROPERTY",
    30: "XNAME",
    31: "XNAME",
    32: "XELEMENT",
    33: "XGEOMETRY",
    34: "CBLOCK",
}
_GEOMETRY = {20: "rectangle", 21: "polygon", 22: "path", 23: "trapezoid", 24: "trapezoid", 25: "trapezoid"}
_GEOMETRY |= {26: "ctrapezoid", 27: "circle", 33: "xgeometry"}


class OasisError(PatternError, ValueError):
    """The bytes are not a readable OASIS file; ``details`` name the record and its offset."""


class OasisMagicError(OasisError):
    """The file does not start with ``%SEMI-OASIS<CR><LF>``."""


class OasisTruncatedError(OasisError):
    """The file (or a CBLOCK) ends inside a record, or before the END record."""


class OasisRecordError(OasisError):
    """A record is malformed: unknown type, out-of-range field, inconsistent CBLOCK, unknown name."""


class _Reader:
    """Bytes from a binary stream, refilled ``chunk_size`` at a time, with the primitives of the format."""

    def __init__(self, stream: BinaryIO, chunk_size: int, *, origin: int = 0) -> None:
        self.stream = stream
        self.chunk_size = chunk_size
        self.buf = b""
        self.pos = 0
        self.base = origin
        self.eof = False
        self.record = "START"
        self.record_offset = origin

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _fill(self, need: int) -> None:
        rest = self.buf[self.pos :]
        self.base += self.pos
        self.pos = 0
        parts = [rest]
        have = len(rest)
        while (have < need or have == 0) and not self.eof:
            chunk = self.stream.read(max(self.chunk_size, need - have))
            if not chunk:
                self.eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts)
        if have < need:
            raise OasisTruncatedError(
                f"the data ends inside a {self.record} record",
                offset=self.record_offset,
                record=self.record,
            )

    def at_end(self) -> bool:
        if self.pos < len(self.buf):
            return False
        if not self.eof:
            self._fill(0)
        return self.pos >= len(self.buf)

    def take(self, n: int) -> bytes:
        if len(self.buf) - self.pos < n:
            self._fill(n)
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            self._fill(1)
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def uint(self) -> int:
        value = 0
        shift = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7
            if shift > 70:
                raise self.error("an unsigned integer longer than 10 bytes")

    def sint(self) -> int:
        raw = self.uint()
        return -(raw >> 1) if raw & 1 else raw >> 1

    def real(self) -> float:
        kind = self.uint()
        return self.real_of(kind)

    def real_of(self, kind: int) -> float:
        if kind == 0:
            return float(self.uint())
        if kind == 1:
            return -float(self.uint())
        if kind in (2, 3):
            d = self.uint()
            if d == 0:
                raise self.error("a reciprocal real with denominator 0")
            return (1.0 if kind == 2 else -1.0) / d
        if kind in (4, 5):
            n, d = self.uint(), self.uint()
            if d == 0:
                raise self.error("a ratio real with denominator 0")
            return (1.0 if kind == 4 else -1.0) * n / d
        if kind == 6:
            return float(struct.unpack("<f", self.take(4))[0])
        if kind == 7:
            return float(struct.unpack("<d", self.take(8))[0])
        raise self.error(f"unknown real type {kind}")

    def string(self) -> bytes:
        return self.take(self.uint())

    def text(self) -> str:
        return self.string().decode("latin-1")

    def error(self, reason: str) -> OasisRecordError:
        return OasisRecordError(reason, offset=self.record_offset, record=self.record)


@dataclass
class OasisSummary:
    version: str
    unit: float  # database grid steps per micron (START record)
    offset_flag: int
    cells: list[str]
    top_cells: list[str]
    hierarchy: dict[str, dict[str, int]]
    layers: dict[tuple[int, int], int]  # (layer, datatype) -> shapes, repetitions included
    elements: dict[str, int]
    findings: list[dict[str, Any]]
    records: int
    cblocks: int
    bytes_read: int
    name_tables: dict[str, int] = field(default_factory=dict)

    @property
    def cell_count(self) -> int:
        return len(self.cells)

    @property
    def db_unit_m(self) -> float:
        """Metres per database unit: one micron over the grid steps per micron."""
        return 1e-6 / self.unit

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "oasis",
            "version": self.version,
            "unit": self.unit,
            "db_unit_m": self.db_unit_m,
            "cell_count": self.cell_count,
            "cells": self.cells,
            "top_cells": self.top_cells,
            "top_cell": self.top_cells[0] if len(self.top_cells) == 1 else "",
            "hierarchy": self.hierarchy,
            "layers": [
                {"layer": layer, "datatype": datatype, "elements": n}
                for (layer, datatype), n in sorted(self.layers.items())
            ],
            "elements": dict(sorted(self.elements.items())),
            "findings": self.findings,
            "records": self.records,
            "cblocks": self.cblocks,
            "bytes_read": self.bytes_read,
            "name_tables": self.name_tables,
        }


class _State:
    """What the pass accumulates, shared by the file's records and those inside CBLOCKs."""

    def __init__(self, max_examples: int) -> None:
        self.findings = Findings(max_examples)
        self.cellnames: dict[int, str] = {}
        self.cellname_mode = ""  # "implicit" or "explicit" once the first CELLNAME is read
        self.counters = {3: 0, 5: 0, 7: 0, 9: 0}  # implicit reference numbers per name record type
        self.tables = {"cellname": 0, "textstring": 0, "propname": 0, "propstring": 0, "layername": 0}
        # Cells in file order: ("name", str) or ("ref", int), resolved at the end.
        self.cells: list[tuple[str, str | int, int]] = []
        self.current: int | None = None  # index into cells
        self.placements: dict[int, dict[tuple[str, str | int], int]] = {}
        self.layers: dict[tuple[int, int], int] = {}
        self.elements: dict[str, int] = {}
        self.records = 0
        self.cblocks = 0
        self.ended = False
        self.modal: dict[str, Any] = {}
        self.last_repetition: int | None = None


def read_oasis(
    stream: BinaryIO,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_cblock_bytes: int = MAX_CBLOCK_BYTES,
    max_examples: int = 20,
) -> OasisSummary:
    """Read the whole OASIS file and summarise it (see the module docstring)."""
    reader = _Reader(stream, chunk_size)
    try:
        magic = reader.take(len(MAGIC))
    except OasisTruncatedError:
        magic = reader.buf
    if magic != MAGIC:
        raise OasisMagicError(
            "not an OASIS file: the first 13 bytes are not %SEMI-OASIS<CR><LF>",
            offset=0,
            record="magic",
            found=bytes(magic[:13]).hex(),
        )
    reader.record, reader.record_offset = "START", reader.offset
    if reader.uint() != 1:
        raise OasisRecordError("the first record after the magic is not START", offset=13, record="START")
    version = reader.text()
    if version != "1.0":
        raise OasisRecordError(f"unsupported OASIS version {version!r}", offset=13, record="START")
    unit = reader.real()
    if not unit > 0:
        raise OasisRecordError(f"the START unit must be positive, got {unit}", offset=13, record="START")
    offset_flag = reader.uint()
    if offset_flag == 0:
        _table_offsets(reader)
    state = _State(max_examples)
    state.records = 1
    _records(reader, state, max_cblock_bytes, offset_flag, cblock_offset=None)
    if not state.ended:
        raise OasisTruncatedError("the file ends before its END record", offset=reader.offset, record="END")
    return _summary(state, version, unit, offset_flag, reader.offset)


def _table_offsets(reader: _Reader) -> None:
    for _ in range(6):
        flag = reader.uint()
        reader.uint()
        if flag > 1:
            raise reader.error(f"table-offset flag {flag} is not 0 or 1")


def _records(
    reader: _Reader, state: _State, max_cblock_bytes: int, offset_flag: int, *, cblock_offset: int | None
) -> None:
    while not reader.at_end():
        offset = reader.offset
        rid = reader.uint()
        name = RECORD_NAMES.get(rid)
        if name is None:
            raise OasisRecordError(
                f"unknown record type {rid}",
                offset=offset,
                record=str(rid),
                **({"cblock_offset": cblock_offset} if cblock_offset is not None else {}),
            )
        reader.record, reader.record_offset = name, offset
        state.records += 1
        try:
            if rid == 34:
                if cblock_offset is not None:
                    raise reader.error("a CBLOCK inside a CBLOCK")
                _cblock(reader, state, max_cblock_bytes, offset_flag)
            elif rid == 2:
                if cblock_offset is not None:
                    raise reader.error("END inside a CBLOCK")
                if offset_flag == 1:
                    _table_offsets(reader)
                reader.string()  # padding
                scheme = reader.uint()
                if scheme in (1, 2):
                    reader.take(4)
                elif scheme != 0:
                    raise reader.error(f"unknown validation scheme {scheme}")
                state.ended = True
                return
            else:
                _record(reader, state, rid, offset)
        except OasisError as exc:
            if cblock_offset is not None and "cblock_offset" not in exc.details:
                exc.details["cblock_offset"] = cblock_offset
            raise


def _cblock(reader: _Reader, state: _State, max_cblock_bytes: int, offset_flag: int) -> None:
    offset = reader.record_offset
    comp_type = reader.uint()
    uncomp, comp = reader.uint(), reader.uint()
    if comp_type != 0:
        raise reader.error(f"CBLOCK compression type {comp_type} is not 0 (DEFLATE)")
    if uncomp > max_cblock_bytes:
        raise reader.error(f"CBLOCK declares {uncomp} uncompressed bytes, above the {max_cblock_bytes} limit")
    data = reader.take(comp)
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(data, uncomp + 1)
    except zlib.error as exc:
        raise reader.error(f"CBLOCK data does not inflate: {exc}") from exc
    if len(raw) != uncomp or not inflater.eof:
        raise reader.error(
            f"CBLOCK inflates to {len(raw)}{'+' if len(raw) > uncomp else ''} bytes"
            f"{'' if inflater.eof else ' without reaching the end of its DEFLATE stream'}, "
            f"declared {uncomp}"
        )
    state.cblocks += 1
    inner = _Reader(io.BytesIO(raw), max(1, len(raw)))
    _records(inner, state, max_cblock_bytes, offset_flag, cblock_offset=offset)


def _name_record(reader: _Reader, state: _State, rid: int, table: str) -> None:
    text = reader.text()
    if rid % 2:  # implicit reference number
        refnum = state.counters[rid]
        state.counters[rid] += 1
        mode = "implicit"
    else:
        refnum = reader.uint()
        mode = "explicit"
    state.tables[table] += 1
    if rid in (3, 4):
        if state.cellname_mode and state.cellname_mode != mode:
            raise reader.error("CELLNAME records mix implicit and explicit reference numbers")
        state.cellname_mode = mode
        if refnum in state.cellnames and state.cellnames[refnum] != text:
            raise reader.error(
                f"cell reference number {refnum} names both {state.cellnames[refnum]!r} and {text!r}"
            )
        state.cellnames[refnum] = text


def _interval(reader: _Reader) -> None:
    kind = reader.uint()
    if kind in (1, 2, 3):
        reader.uint()
    elif kind == 4:
        reader.uint()
        reader.uint()
    elif kind != 0:
        raise reader.error(f"unknown interval type {kind}")


def _record(reader: _Reader, state: _State, rid: int, offset: int) -> None:
    if rid == 0 or rid in (15, 16):
        return
    if rid == 1:
        raise reader.error("a second START record")
    if rid in (3, 4):
        _name_record(reader, state, rid, "cellname")
    elif rid in (5, 6):
        _name_record(reader, state, rid, "textstring")
    elif rid in (7, 8):
        _name_record(reader, state, rid, "propname")
    elif rid in (9, 10):
        _name_record(reader, state, rid, "propstring")
    elif rid in (11, 12):
        reader.text()
        _interval(reader)
        _interval(reader)
        state.tables["layername"] += 1
    elif rid in (13, 14):
        ref: str | int = reader.uint() if rid == 13 else reader.text()
        state.cells.append(("ref" if rid == 13 else "name", ref, offset))
        state.current = len(state.cells) - 1
        state.modal = {}  # modal variables are undefined at the start of each cell
        state.last_repetition = None
    elif rid in (17, 18):
        _placement(reader, state, rid)
    elif rid == 19:
        _text(reader, state)
    elif rid in _GEOMETRY:
        _geometry(reader, state, rid)
    elif rid == 28:
        _property(reader)
    elif rid == 29:
        pass
    elif rid in (30, 31):
        reader.uint()
        reader.string()
        if rid == 31:
            reader.uint()
    elif rid == 32:
        reader.uint()
        reader.string()


def _in_cell(reader: _Reader, state: _State) -> int:
    if state.current is None:
        raise reader.error(f"{reader.record} outside a CELL")
    return state.current


def _modal(reader: _Reader, state: _State, name: str, present: bool, read: Any) -> Any:
    if present:
        value = read()
        state.modal[name] = value
        return value
    if name not in state.modal:
        raise reader.error(f"{reader.record} uses modal variable {name} before it is set")
    return state.modal[name]


def _placement(reader: _Reader, state: _State, rid: int) -> None:
    cell = _in_cell(reader, state)
    info = reader.byte()
    target: tuple[str, str | int]
    if info & 0x80:
        target = ("ref", reader.uint()) if info & 0x40 else ("name", reader.text())
        state.modal["placement-cell"] = target
    elif "placement-cell" in state.modal:
        target = state.modal["placement-cell"]
    else:
        raise reader.error("PLACEMENT uses modal variable placement-cell before it is set")
    if rid == 18:
        if info & 0x04:
            reader.real()
        if info & 0x02:
            reader.real()
    if info & 0x20:
        reader.sint()
    if info & 0x10:
        reader.sint()
    count = _repetition(reader, state) if info & 0x08 else 1
    placements = state.placements.setdefault(cell, {})
    placements[target] = placements.get(target, 0) + count
    state.elements["placement"] = state.elements.get("placement", 0) + 1


def _text(reader: _Reader, state: _State) -> None:
    _in_cell(reader, state)
    info = reader.byte()
    if info & 0x40:
        if info & 0x20:
            reader.uint()
        else:
            reader.string()
    if info & 0x01:
        state.modal["textlayer"] = reader.uint()
    if info & 0x02:
        state.modal["texttype"] = reader.uint()
    if info & 0x10:
        reader.sint()
    if info & 0x08:
        reader.sint()
    if info & 0x04:
        _repetition(reader, state)
    state.elements["text"] = state.elements.get("text", 0) + 1


def _geometry(reader: _Reader, state: _State, rid: int) -> None:
    cell = _in_cell(reader, state)
    info = reader.byte()
    if rid == 33:
        reader.uint()  # xgeometry-attribute
    layer = _modal(reader, state, "layer", bool(info & 0x01), reader.uint)
    datatype = _modal(reader, state, "datatype", bool(info & 0x02), reader.uint)
    zero_size = False
    if rid == 20:
        square = bool(info & 0x80)
        width = _modal(reader, state, "geometry-w", bool(info & 0x40), reader.uint)
        if square:
            if info & 0x20:
                raise reader.error("a square RECTANGLE with a height")
            height = width
            state.modal["geometry-h"] = width
        else:
            height = _modal(reader, state, "geometry-h", bool(info & 0x20), reader.uint)
        zero_size = width == 0 or height == 0
    elif rid == 21:
        if info & 0x20:
            _point_list(reader)
    elif rid == 22:
        if info & 0x40:
            state.modal["path-halfwidth"] = reader.uint()
        if info & 0x80:
            scheme = reader.uint()
            if scheme & 0x0C == 0x0C:
                reader.sint()
            if scheme & 0x03 == 0x03:
                reader.sint()
        if info & 0x20:
            _point_list(reader)
    elif rid in (23, 24, 25):
        if info & 0x40:
            reader.uint()
        if info & 0x20:
            reader.uint()
        reader.sint()
        if rid == 23:
            reader.sint()
    elif rid == 26:
        if info & 0x80:
            reader.uint()
        if info & 0x40:
            reader.uint()
        if info & 0x20:
            reader.uint()
    elif rid == 27:
        if info & 0x20:
            reader.uint()
    elif rid == 33:
        reader.string()
    if info & 0x10:
        reader.sint()
    if info & 0x08:
        reader.sint()
    count = _repetition(reader, state) if info & 0x04 else 1
    key = (layer, datatype)
    state.layers[key] = state.layers.get(key, 0) + count
    kind = _GEOMETRY[rid]
    state.elements[kind] = state.elements.get(kind, 0) + 1
    if zero_size:
        state.findings.add(
            "zero_size_rectangle", cell=cell, offset=reader.record_offset, layer=layer, datatype=datatype
        )


def _point_list(reader: _Reader) -> None:
    kind = reader.uint()
    count = reader.uint()
    if kind in (0, 1):
        for _ in range(count):
            reader.sint()
    elif kind in (2, 3):
        for _ in range(count):
            reader.uint()
    elif kind in (4, 5):
        for _ in range(count):
            _g_delta(reader)
    else:
        raise reader.error(f"unknown point-list type {kind}")


def _g_delta(reader: _Reader) -> None:
    first = reader.uint()
    if first & 1:  # form 2: x magnitude and sign in the first integer, y a signed integer
        reader.sint()


def _repetition(reader: _Reader, state: _State) -> int:
    kind = reader.uint()
    if kind == 0:
        if state.last_repetition is None:
            raise reader.error("repetition type 0 (reuse) with no previous repetition")
        return state.last_repetition
    if kind == 1:
        nx, ny = reader.uint(), reader.uint()
        reader.uint()
        reader.uint()
        count = (nx + 2) * (ny + 2)
    elif kind in (2, 3):
        count = reader.uint() + 2
        reader.uint()
    elif kind in (4, 6):
        n = reader.uint()
        for _ in range(n + 1):
            reader.uint()
        count = n + 2
    elif kind in (5, 7):
        n = reader.uint()
        reader.uint()
        for _ in range(n + 1):
            reader.uint()
        count = n + 2
    elif kind == 8:
        n, m = reader.uint(), reader.uint()
        _g_delta(reader)
        _g_delta(reader)
        count = (n + 2) * (m + 2)
    elif kind == 9:
        count = reader.uint() + 2
        _g_delta(reader)
    elif kind in (10, 11):
        n = reader.uint()
        if kind == 11:
            reader.uint()
        for _ in range(n + 1):
            _g_delta(reader)
        count = n + 2
    else:
        raise reader.error(f"unknown repetition type {kind}")
    state.last_repetition = count
    return count


def _property(reader: _Reader) -> None:
    info = reader.byte()
    if info & 0x04:
        if info & 0x02:
            reader.uint()
        else:
            reader.string()
    if info & 0x08:  # V: reuse the last value list
        return
    count = info >> 4
    if count == 15:
        count = reader.uint()
    for _ in range(count):
        kind = reader.uint()
        if kind <= 7:
            reader.real_of(kind)
        elif kind in (8, 13, 14, 15):
            reader.uint()
        elif kind == 9:
            reader.sint()
        elif kind in (10, 11, 12):
            reader.string()
        else:
            raise reader.error(f"unknown property value type {kind}")


def _summary(state: _State, version: str, unit: float, offset_flag: int, end: int) -> OasisSummary:
    def resolve(target: tuple[str, str | int]) -> str | None:
        kind, value = target
        if kind == "name":
            return str(value)
        return state.cellnames.get(int(value))

    names: list[str] = []
    index_names: dict[int, str] = {}
    for i, (kind, value, offset) in enumerate(state.cells):
        name = resolve((kind, value))
        if name is None:
            raise OasisRecordError(
                f"CELL reference number {value} has no CELLNAME", offset=offset, record="CELL"
            )
        if name in names:
            state.findings.add("duplicate_cell", cell=name, offset=offset)
        else:
            names.append(name)
        index_names[i] = name
    defined = set(names)
    for finding in state.findings.by_code.values():  # cells were known by index while reading
        for example in finding.examples:
            if isinstance(example.get("cell"), int):
                example["cell"] = index_names[example["cell"]]
    hierarchy: dict[str, dict[str, int]] = {}
    for index, targets in state.placements.items():
        parent = index_names[index]
        children = hierarchy.setdefault(parent, {})
        for target, count in targets.items():
            child = resolve(target)
            if child is None:
                child = f"#{target[1]}"
            children[child] = children.get(child, 0) + count
            if child not in defined:
                state.findings.add("undefined_cell", cell=parent, referenced=child)
    referenced = {c for children in hierarchy.values() for c in children}
    return OasisSummary(
        version=version,
        unit=unit,
        offset_flag=offset_flag,
        cells=names,
        top_cells=[n for n in names if n not in referenced],
        hierarchy=hierarchy,
        layers=state.layers,
        elements=state.elements,
        findings=state.findings.to_list(),
        records=state.records,
        cblocks=state.cblocks,
        bytes_read=end,
        name_tables=state.tables,
    )
