"""Readers for PCD, LAS/LAZ, PLY and KITTI ``.bin`` point clouds, built on numpy.

Binary payloads are viewed in place with ``np.frombuffer`` and structured dtypes (or memory-mapped
when a path is given), so a reader only copies the x, y, z and intensity columns it returns. LAS
and LAZ go through laspy with the lazrs backend, asking lazrs to decompress only the coordinate and
intensity layers. Anything corrupt or truncated raises :class:`PointCloudError` with a reason.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.formats.pointcloud.model import (
    KITTI_BIN,
    LAS,
    LAZ,
    PCD,
    PLY,
    PointCloud,
    PointCloudError,
    format_name,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

Source = bytes | bytearray | memoryview | str | Path

# A text header longer than this is not a header: stop looking for its end.
MAX_HEADER_BYTES = 1 << 20
_INTENSITY_NAMES = ("intensity", "scalar_intensity", "i")
# ASCII bodies are scanned and converted in bounded pieces, so parsing one costs a few times a
# piece on top of the result instead of about ten times the file (a Python object per value).
ASCII_CHUNK_BYTES = 8 << 20
ASCII_CHUNK_ROWS = 65_536


def read(data: Source, fmt: str) -> PointCloud:
    """Read a point cloud in format ``fmt`` (see ``FORMATS``) from bytes or a local file path."""
    name = format_name(fmt)
    try:
        return _READERS[name](data)
    except PointCloudError:
        raise
    except (ValueError, IndexError, KeyError, struct.error, OverflowError, EOFError) as error:
        # Safety net: a malformed file must surface as a per-file reason, never as a crash.
        raise PointCloudError(f"malformed {name} file: {type(error).__name__}: {error}") from error


def _buffer(data: Source) -> memoryview:
    """A read-only byte view of the input; a path is memory-mapped, not read."""
    if isinstance(data, str | Path):
        path = Path(data)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise PointCloudError(f"cannot open {path}: {error.strerror}") from error
        if size == 0:
            return memoryview(b"")
        mapped: NDArray[Any] = np.memmap(path, dtype=np.uint8, mode="r")
        return mapped.data.cast("B")
    return memoryview(data).cast("B")


def _floats(arrays: list[NDArray[Any]]) -> NDArray[Any]:
    """Stack three coordinate columns into one (N, 3) array of their common float type."""
    dtype = np.result_type(*arrays, np.float32)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    out = np.empty((arrays[0].shape[0], 3), dtype=dtype)
    for column, values in enumerate(arrays):
        out[:, column] = values
    return out


def _text_header(buf: memoryview, terminator: str, what: str) -> tuple[list[str], int]:
    """Header lines up to and including the one starting with ``terminator``, and the data offset."""
    raw = bytes(buf[: min(len(buf), MAX_HEADER_BYTES)])
    lines: list[str] = []
    pos = 0
    while True:
        end = raw.find(b"\n", pos)
        if end < 0:
            raise PointCloudError(
                f"{what} header has no {terminator!r} line (truncated or not a {what} file)"
            )
        try:
            line = raw[pos:end].decode("ascii").strip()
        except UnicodeDecodeError:
            raise PointCloudError(f"{what} header contains non-ASCII bytes") from None
        pos = end + 1
        if line.startswith(terminator):
            lines.append(line)
            return lines, pos
        if line:
            lines.append(line)


# --------------------------------------------------------------------------------------------- PCD

_PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8"}
_PCD_TYPES.update({(kind, size): f"{kind.lower()}{size}" for kind in "IU" for size in (1, 2, 4, 8)})


@dataclass(frozen=True)
class _PcdHeader:
    names: list[str]
    dtypes: list[np.dtype[Any]]
    counts: list[int]
    points: int
    data: str
    offset: int

    @property
    def record(self) -> np.dtype[Any]:
        return np.dtype(
            [
                (name, dt) if count == 1 else (name, dt, (count,))
                for name, dt, count in zip(self.names, self.dtypes, self.counts, strict=True)
            ]
        )


def _pcd_header(buf: memoryview) -> _PcdHeader:
    lines, offset = _text_header(buf, "DATA", "PCD")
    fields: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        fields[key.upper()] = rest.split()
    try:
        raw_names = fields["FIELDS"]
        sizes = [int(s) for s in fields["SIZE"]]
        types = [t.upper() for t in fields["TYPE"]]
        counts = [int(c) for c in fields.get("COUNT", ["1"] * len(raw_names))]
        data = fields["DATA"][0].lower()
        points = _pcd_points(fields)
    except PointCloudError:
        raise
    except KeyError as missing:
        raise PointCloudError(f"PCD header lacks the {missing.args[0]} line") from None
    except (ValueError, IndexError):
        raise PointCloudError(
            "PCD header has a non-numeric or empty SIZE/COUNT/WIDTH/HEIGHT/POINTS"
        ) from None
    if not len(raw_names) == len(sizes) == len(types) == len(counts):
        raise PointCloudError(
            f"PCD header declares {len(raw_names)} FIELDS but {len(sizes)} SIZE, "
            f"{len(types)} TYPE and {len(counts)} COUNT entries"
        )
    if points < 0 or any(c < 1 for c in counts):
        raise PointCloudError("PCD header has a negative POINTS or a COUNT below 1")
    dtypes = []
    for kind, size in zip(types, sizes, strict=True):
        code = _PCD_TYPES.get((kind, size))
        if code is None:
            raise PointCloudError(f"PCD field type {kind}{size} is not supported")
        dtypes.append(np.dtype("<" + code))
    # PCL pads records with fields named "_"; structured dtypes need unique names.
    names: list[str] = []
    for name in raw_names:
        unique = name
        while unique in names:
            unique += "_"
        names.append(unique)
    for axis in "xyz":
        if axis not in names:
            raise PointCloudError(f"PCD file has no {axis!r} field (FIELDS {' '.join(raw_names)})")
        if counts[names.index(axis)] != 1:
            raise PointCloudError(f"PCD field {axis!r} has COUNT != 1")
    if data not in ("ascii", "binary", "binary_compressed"):
        raise PointCloudError(f"PCD DATA {data!r} is not ascii, binary or binary_compressed")
    return _PcdHeader(names, dtypes, counts, points, data, offset)


def _pcd_points(fields: dict[str, list[str]]) -> int:
    """POINTS, checked against WIDTH x HEIGHT (a v0.6 header may give POINTS alone: one row)."""
    declared = int(fields["POINTS"][0]) if "POINTS" in fields else None
    if "WIDTH" not in fields:
        if declared is None:
            raise KeyError("WIDTH")
        return declared
    width = int(fields["WIDTH"][0])
    height = int(fields.get("HEIGHT", ["1"])[0])
    if declared is None:
        return width * height
    if declared != width * height:
        raise PointCloudError(
            f"PCD header declares POINTS {declared} but WIDTH {width} x HEIGHT {height} = {width * height}"
        )
    return declared


def _intensity_field(names: list[str]) -> str | None:
    lowered = {name.lower(): name for name in names}
    for candidate in _INTENSITY_NAMES:
        if candidate in lowered:
            return lowered[candidate]
    return None


def read_pcd(data: Source) -> PointCloud:
    """PCD v0.7 (and v0.6 without VERSION checks): ascii, binary or binary_compressed."""
    buf = _buffer(data)
    header = _pcd_header(buf)
    n = header.points
    intensity_name = _intensity_field(header.names)
    wanted = ["x", "y", "z"] + ([intensity_name] if intensity_name else [])
    columns: dict[str, NDArray[Any]]
    if header.data == "binary":
        record = header.record
        need = n * record.itemsize
        available = len(buf) - header.offset
        if available < need:
            raise PointCloudError(
                f"PCD binary data truncated: {n} points of {record.itemsize} bytes need {need} bytes, "
                f"{available} present"
            )
        if available > need:
            raise PointCloudError(
                f"PCD binary data has {available - need} byte(s) after the {n} points of "
                f"{record.itemsize} bytes that POINTS declares"
            )
        rows = np.frombuffer(buf, dtype=record, count=n, offset=header.offset)
        columns = {name: rows[name] for name in wanted}
    elif header.data == "binary_compressed":
        columns = _pcd_compressed_columns(buf, header, wanted)
    else:
        columns = _pcd_ascii_columns(buf, header, wanted)
    xyz = _floats([columns["x"], columns["y"], columns["z"]])
    intensity = _flat_intensity(columns[intensity_name], n) if intensity_name else None
    return PointCloud(xyz=xyz, intensity=intensity, format=PCD)


def _flat_intensity(values: NDArray[Any], n: int) -> NDArray[Any]:
    """The first component of an intensity field, as an owned 1-D array."""
    width = values.size // n if n else 1
    return np.array(values.reshape(n, width)[:, 0])


def _lzf_decompress(data: bytes | memoryview, size: int) -> bytes:
    from shared.formats.pointcloud import lzf  # only binary_compressed PCD needs it

    return lzf.decompress(data, size)


def _pcd_compressed_columns(
    buf: memoryview, header: _PcdHeader, wanted: list[str]
) -> dict[str, NDArray[Any]]:
    start = header.offset
    if len(buf) - start < 8:
        raise PointCloudError("PCD binary_compressed data truncated before its size fields")
    compressed, uncompressed = struct.unpack_from("<II", buf, start)
    n = header.points
    expected = n * header.record.itemsize
    if uncompressed != expected:
        raise PointCloudError(
            f"PCD binary_compressed announces {uncompressed} uncompressed bytes, "
            f"{n} points of {header.record.itemsize} bytes need {expected}"
        )
    if len(buf) - start - 8 < compressed:
        raise PointCloudError(
            f"PCD binary_compressed data truncated: {compressed} compressed bytes announced, "
            f"{len(buf) - start - 8} present"
        )
    if len(buf) - start - 8 > compressed:
        raise PointCloudError(
            f"PCD binary_compressed data has {len(buf) - start - 8 - compressed} byte(s) after the "
            f"{compressed} compressed bytes announced"
        )
    raw = _lzf_decompress(buf[start + 8 : start + 8 + compressed], uncompressed) if expected else b""
    # The decompressed block is column-major: every value of field 0, then of field 1, ...
    columns: dict[str, NDArray[Any]] = {}
    offset = 0
    for name, dtype, count in zip(header.names, header.dtypes, header.counts, strict=True):
        if name in wanted:
            columns[name] = np.frombuffer(raw, dtype=dtype, count=n * count, offset=offset)
        offset += n * count * dtype.itemsize
    return columns


def _pcd_ascii_columns(buf: memoryview, header: _PcdHeader, wanted: list[str]) -> dict[str, NDArray[Any]]:
    table = _ascii_rows(
        buf,
        header.offset,
        skip=0,
        count=header.points,
        width=sum(header.counts),
        what=("PCD", "point", "points"),
    )
    columns: dict[str, NDArray[Any]] = {}
    column = 0
    for name, dtype, count in zip(header.names, header.dtypes, header.counts, strict=True):
        if name in wanted:
            columns[name] = table[:, column].astype(dtype)
        column += count
    return columns


def _ascii_rows(
    buf: memoryview,
    offset: int,
    *,
    skip: int,
    count: int,
    width: int,
    what: tuple[str, str, str],
    last: bool = True,
) -> NDArray[Any]:
    """Rows ``skip`` to ``skip + count`` of a text body as a (count, width) float64 table.

    Each row is checked on its own, so a short row next to a long one cannot shift the values of
    every later point: the error names the file line and the values expected and found. Blank lines
    are ignored. With ``last``, a non-blank row after the ones wanted is an error too.
    """
    fmt, item, items = what
    first_line = bytes(buf[:offset]).count(b"\n") + 1
    lengths, starts = _line_table(buf, offset)
    filled = np.flatnonzero(lengths)
    wanted = filled[skip : skip + count]
    if wanted.size < count:
        raise PointCloudError(
            f"{fmt} ascii data truncated: {count} {items} declared ({_COUNT_NAME[fmt]}), "
            f"{wanted.size} data rows present"
        )
    wrong = np.flatnonzero(lengths[wanted] != width)
    if wrong.size:
        line = int(wanted[wrong[0]])
        raise PointCloudError(
            f"{fmt} ascii data line {first_line + line}: expected {width} values (one {item}), "
            f"found {int(lengths[line])}"
        )
    if last and filled.size > skip + count:
        line = int(filled[skip + count])
        raise PointCloudError(
            f"{fmt} ascii data line {first_line + line}: a data row beyond the {count} {items} "
            f"declared ({_COUNT_NAME[fmt]})"
        )
    table = np.empty((count, width), dtype=np.float64)
    # Convert a bounded run of rows at a time: the token objects of a whole file would cost about
    # ten times its size. Blank lines inside a run split into nothing.
    for first in range(0, count, ASCII_CHUNK_ROWS):
        rows = wanted[first : first + ASCII_CHUNK_ROWS]
        begin, end = int(starts[rows[0]]), int(starts[rows[-1] + 1])
        try:
            values = np.array(bytes(buf[offset + begin : offset + end]).split(), dtype=np.float64)
        except ValueError as error:
            raise PointCloudError(f"{fmt} ascii data has a non-numeric value: {error}") from None
        table[first : first + rows.size] = values.reshape(rows.size, width)
    return table


def _line_table(buf: memoryview, offset: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """Tokens on each line of the body after ``offset``, and each line's start (one more: the end).

    The body is scanned in pieces of about :data:`ASCII_CHUNK_BYTES` cut after a newline, so the
    byte masks of the scan never hold more than one piece.
    """
    size = len(buf) - offset
    lengths: list[NDArray[Any]] = []
    starts: list[NDArray[Any]] = [np.zeros(1, dtype=np.int64)]
    pos = 0
    while pos < size:
        stop = min(size, pos + ASCII_CHUNK_BYTES)
        piece = bytes(buf[offset + pos : offset + stop])
        if stop < size:
            cut = piece.rfind(b"\n")
            if cut < 0:
                raise PointCloudError(f"ascii data has a line longer than {ASCII_CHUNK_BYTES} bytes")
            piece, stop = piece[: cut + 1], pos + cut + 1
        counts, newlines = _tokens_per_line(piece)
        # A piece ends right after a newline (bar the last): its trailing empty line is not a line.
        lengths.append(counts if stop == size else counts[:-1])
        starts.append(pos + newlines.astype(np.int64) + 1)
        pos = stop
    if not lengths:
        return np.zeros(1, dtype=np.int64), np.array([0, 0], dtype=np.int64)
    line_starts = np.concatenate(starts)
    if line_starts[-1] != size:
        line_starts = np.append(line_starts, size)
    return np.concatenate(lengths), line_starts


_COUNT_NAME = {"PCD": "POINTS", "PLY": "element vertex"}
# The bytes ``bytes.split()`` separates tokens on, as a lookup table over byte values.
_IS_SPACE = np.zeros(256, dtype=bool)
_IS_SPACE[list(b" \t\n\r\x0b\x0c")] = True


def _tokens_per_line(body: bytes) -> tuple[NDArray[Any], NDArray[Any]]:
    """Tokens on each ``\\n``-terminated line (and the text after the last), and the newlines' offsets."""
    raw = np.frombuffer(body, dtype=np.uint8)
    space = _IS_SPACE[raw]
    starts = ~space
    starts[1:] &= space[:-1]  # a token starts where a non-space byte follows a space
    newlines = np.flatnonzero(raw == 10)
    # The line of a token start is the number of newlines before it.
    line_of_start = np.searchsorted(newlines, np.flatnonzero(starts))
    lengths: NDArray[Any] = np.bincount(line_of_start, minlength=newlines.size + 1)
    return lengths, newlines


# ----------------------------------------------------------------------------------------- LAS/LAZ


def _read_las(data: Source, fmt: str) -> PointCloud:
    """LAS 1.2-1.4 or LAZ, through laspy: its module (and laspy) load on the first LAS/LAZ read only."""
    from shared.formats.pointcloud import las

    return las.read(data, fmt)


# --------------------------------------------------------------------------------------------- PLY

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


@dataclass
class _PlyElement:
    name: str
    count: int
    properties: list[tuple[str, str]]
    has_list: bool = False


def _ply_header(buf: memoryview) -> tuple[str, list[_PlyElement], int]:
    if bytes(buf[:4]) not in (b"ply\n", b"ply\r"):
        raise PointCloudError("not a PLY file: it does not start with 'ply'")
    lines, offset = _text_header(buf, "end_header", "PLY")
    encoding = ""
    elements: list[_PlyElement] = []
    for line in lines[1:-1]:
        words = line.split()
        if words[0] == "format" and len(words) >= 2:
            encoding = words[1]
            version = words[2] if len(words) == 3 else " ".join(words[2:]) or "(missing)"
            if version != "1.0":
                raise PointCloudError(
                    f"PLY version {version!r} is not supported (only 'format {encoding} 1.0')"
                )
        elif words[0] == "element" and len(words) == 3:
            try:
                count = int(words[2])
            except ValueError:
                raise PointCloudError(f"PLY element {words[1]!r} has a non-numeric count") from None
            if count < 0:
                raise PointCloudError(f"PLY element {words[1]!r} has a negative count")
            elements.append(_PlyElement(words[1], count, []))
        elif words[0] == "property":
            if not elements:
                raise PointCloudError("PLY property declared before any element")
            if len(words) >= 2 and words[1] == "list":
                elements[-1].has_list = True
                continue
            if len(words) != 3 or words[1] not in _PLY_TYPES:
                raise PointCloudError(f"PLY property line not understood: {line!r}")
            elements[-1].properties.append((words[2], _PLY_TYPES[words[1]]))
    if encoding not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise PointCloudError(f"PLY format {encoding or '(missing)'!r} is not supported")
    return encoding, elements, offset


def read_ply(data: Source) -> PointCloud:
    """PLY ascii or binary (little- or big-endian); the ``vertex`` element's x, y, z[, intensity]."""
    buf = _buffer(data)
    encoding, elements, offset = _ply_header(buf)
    index = next((i for i, e in enumerate(elements) if e.name == "vertex"), None)
    if index is None:
        raise PointCloudError("PLY file has no vertex element")
    vertex = elements[index]
    if vertex.has_list:
        raise PointCloudError("PLY vertex element with list properties is not supported")
    names = [name for name, _ in vertex.properties]
    for axis in "xyz":
        if axis not in names:
            raise PointCloudError(f"PLY vertex element has no {axis!r} property")
    intensity_name = _intensity_field(names)
    n = vertex.count
    if encoding == "ascii":
        columns = _ply_ascii_columns(buf, elements, index, offset, intensity_name)
    else:
        order = "<" if encoding == "binary_little_endian" else ">"
        skip = 0
        for element in elements[:index]:
            if element.has_list:
                raise PointCloudError(
                    f"binary PLY element {element.name!r} before vertex has list properties"
                )
            skip += element.count * np.dtype([(p, order + t) for p, t in element.properties]).itemsize
        record = np.dtype([(p, order + t) for p, t in vertex.properties])
        need = offset + skip + n * record.itemsize
        if len(buf) < need:
            raise PointCloudError(
                f"PLY binary data truncated: {n} vertices need {need - offset} bytes, "
                f"{len(buf) - offset} present"
            )
        rows = np.frombuffer(buf, dtype=record, count=n, offset=offset + skip)
        columns = {
            name: rows[name] for name in ["x", "y", "z"] + ([intensity_name] if intensity_name else [])
        }
    xyz = _floats([columns["x"], columns["y"], columns["z"]])
    intensity = None
    if intensity_name:
        values = columns[intensity_name]
        intensity = np.array(values, dtype=values.dtype.newbyteorder("="))
    return PointCloud(xyz=xyz, intensity=intensity, format=PLY)


def _ply_ascii_columns(
    buf: memoryview, elements: list[_PlyElement], index: int, offset: int, intensity_name: str | None
) -> dict[str, NDArray[Any]]:
    vertex = elements[index]
    table = _ascii_rows(
        buf,
        offset,
        skip=sum(element.count for element in elements[:index]),
        count=vertex.count,
        width=len(vertex.properties),
        what=("PLY", "vertex", "vertices"),
        last=False,  # rows of later elements (faces, edges) follow the vertices
    )
    columns: dict[str, NDArray[Any]] = {}
    for column, (name, code) in enumerate(vertex.properties):
        if name in ("x", "y", "z") or name == intensity_name:
            columns[name] = table[:, column].astype(code)
    return columns


# ------------------------------------------------------------------------------------------- KITTI


def read_kitti_bin(data: Source) -> PointCloud:
    """KITTI Velodyne scan: little-endian float32 x, y, z, intensity per point, no header."""
    buf = _buffer(data)
    if len(buf) % 16:
        raise PointCloudError(
            f"KITTI .bin size {len(buf)} is not a multiple of 16 bytes (4 float32 per point): "
            "truncated or not a KITTI scan"
        )
    rows = np.frombuffer(buf, dtype="<f4").reshape(-1, 4)
    return PointCloud(
        xyz=np.ascontiguousarray(rows[:, :3], dtype=np.float32),
        intensity=np.ascontiguousarray(rows[:, 3], dtype=np.float32),
        format=KITTI_BIN,
    )


_READERS: dict[str, Callable[[Source], PointCloud]] = {
    PCD: read_pcd,
    LAS: lambda data: _read_las(data, LAS),
    LAZ: lambda data: _read_las(data, LAZ),
    PLY: read_ply,
    KITTI_BIN: read_kitti_bin,
}
