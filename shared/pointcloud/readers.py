"""Readers for PCD, LAS/LAZ, PLY and KITTI ``.bin`` point clouds, built on numpy.

Binary payloads are viewed in place with ``np.frombuffer`` and structured dtypes (or memory-mapped
when a path is given), so a reader only copies the x, y, z and intensity columns it returns. LAS
and LAZ go through laspy with the lazrs backend, asking lazrs to decompress only the coordinate and
intensity layers. Anything corrupt or truncated raises :class:`PointCloudError` with a reason.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.pointcloud import lzf
from shared.pointcloud.model import (
    KITTI_BIN,
    LAS,
    LAZ,
    PCD,
    PLY,
    PointCloud,
    PointCloudError,
    UnknownFormatError,
)

logger = logging.getLogger(__name__)

Source = bytes | bytearray | memoryview | str | Path

# A text header longer than this is not a header: stop looking for its end.
MAX_HEADER_BYTES = 1 << 20
_INTENSITY_NAMES = ("intensity", "scalar_intensity", "i")


def read(data: Source, fmt: str) -> PointCloud:
    """Read a point cloud in format ``fmt`` (see ``FORMATS``) from bytes or a local file path."""
    name = fmt.lower().lstrip(".")
    reader = _READERS.get(name)
    if reader is None:
        raise UnknownFormatError(
            f"unsupported point cloud format {fmt!r}; expected one of {sorted(_READERS)}"
        )
    try:
        return reader(data)
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
        mapped: np.ndarray = np.memmap(path, dtype=np.uint8, mode="r")
        return mapped.data.cast("B")
    return memoryview(data).cast("B")


def _floats(arrays: list[np.ndarray]) -> np.ndarray:
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
    dtypes: list[np.dtype]
    counts: list[int]
    points: int
    data: str
    offset: int

    @property
    def record(self) -> np.dtype:
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
        width = int(fields["WIDTH"][0])
        height = int(fields.get("HEIGHT", ["1"])[0])
        points = int(fields.get("POINTS", [str(width * height)])[0])
        data = fields["DATA"][0].lower()
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
    columns: dict[str, np.ndarray]
    if header.data == "binary":
        record = header.record
        need = n * record.itemsize
        available = len(buf) - header.offset
        if available < need:
            raise PointCloudError(
                f"PCD binary data truncated: {n} points of {record.itemsize} bytes need {need} bytes, "
                f"{available} present"
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


def _flat_intensity(values: np.ndarray, n: int) -> np.ndarray:
    """The first component of an intensity field, as an owned 1-D array."""
    width = values.size // n if n else 1
    return np.array(values.reshape(n, width)[:, 0])


def _pcd_compressed_columns(buf: memoryview, header: _PcdHeader, wanted: list[str]) -> dict[str, np.ndarray]:
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
    raw = lzf.decompress(buf[start + 8 : start + 8 + compressed], uncompressed) if expected else b""
    # The decompressed block is column-major: every value of field 0, then of field 1, ...
    columns: dict[str, np.ndarray] = {}
    offset = 0
    for name, dtype, count in zip(header.names, header.dtypes, header.counts, strict=True):
        if name in wanted:
            columns[name] = np.frombuffer(raw, dtype=dtype, count=n * count, offset=offset)
        offset += n * count * dtype.itemsize
    return columns


def _pcd_ascii_columns(buf: memoryview, header: _PcdHeader, wanted: list[str]) -> dict[str, np.ndarray]:
    n = header.points
    per_row = sum(header.counts)
    tokens = bytes(buf[header.offset :]).split()
    if len(tokens) < n * per_row:
        raise PointCloudError(
            f"PCD ascii data truncated: {n} points of {per_row} values need {n * per_row} values, "
            f"{len(tokens)} present"
        )
    try:
        table = np.array(tokens[: n * per_row], dtype=np.float64).reshape(n, per_row)
    except ValueError as error:
        raise PointCloudError(f"PCD ascii data has a non-numeric value: {error}") from None
    columns: dict[str, np.ndarray] = {}
    column = 0
    for name, dtype, count in zip(header.names, header.dtypes, header.counts, strict=True):
        if name in wanted:
            columns[name] = table[:, column].astype(dtype)
        column += count
    return columns


# ----------------------------------------------------------------------------------------- LAS/LAZ


def read_las(data: Source) -> PointCloud:
    """LAS 1.2-1.4, uncompressed."""
    return _read_laspy(data, LAS)


def read_laz(data: Source) -> PointCloud:
    """LAZ (LAS compressed with LASzip), decompressed by lazrs."""
    return _read_laspy(data, LAZ)


_LAS_HEADER = struct.Struct("<4s20xBB68xHIIBHI")  # signature .. legacy point count (offset 107)
_LAZ_CHUNK_POINTS = 1 << 20


def _las_head(data: Source) -> tuple[bytes, int]:
    """The first 375 bytes (the LAS 1.4 header size) and the total size of the input."""
    if isinstance(data, str | Path):
        try:
            with open(data, "rb") as handle:
                return handle.read(375), Path(data).stat().st_size
        except OSError as error:
            raise PointCloudError(f"cannot open {data}: {error.strerror}") from error
    return bytes(memoryview(data)[:375]), len(memoryview(data).cast("B"))


def _check_las_header(head: bytes, total: int, fmt: str) -> tuple[bool, int, int, int, int]:
    """Reject what laspy would misread or over-allocate on: short headers and impossible counts.

    Returns (compressed, header size, VLR count, point data offset, point count).
    """
    what = fmt.upper()
    if len(head) < _LAS_HEADER.size:
        raise PointCloudError(f"{what} file of {total} bytes is shorter than a LAS header")
    signature, major, minor, header_size, point_offset, vlr_count, point_format, record, legacy = (
        _LAS_HEADER.unpack_from(head)
    )
    if signature != b"LASF":
        raise PointCloudError(f"not a {what} file: signature {signature!r}, expected b'LASF'")
    if (major, minor) not in ((1, 0), (1, 1), (1, 2), (1, 3), (1, 4)):
        raise PointCloudError(f"{what} version {major}.{minor} is not supported (1.0-1.4)")
    needed_header = 375 if minor >= 4 else 227
    if header_size < needed_header or len(head) < needed_header or total < header_size:
        raise PointCloudError(
            f"{what} {major}.{minor} header truncated or malformed: header size {header_size}, "
            f"file {total} bytes, {needed_header} needed"
        )
    count = legacy
    if minor >= 4:
        (count_14,) = struct.unpack_from("<Q", head, 247)
        count = count_14 or legacy
    if point_offset > total:
        raise PointCloudError(
            f"{what} point data offset {point_offset} is beyond the end of the {total}-byte file"
        )
    if vlr_count * 54 > point_offset - header_size:
        raise PointCloudError(
            f"{what} header announces {vlr_count} VLRs, more than fit between the header and the point data"
        )
    if minor >= 4:
        evlr_start, evlr_count = struct.unpack_from("<QI", head, 235)
        if evlr_count and (evlr_start < point_offset or evlr_start + evlr_count * 60 > total):
            raise PointCloudError(
                f"{what} header announces {evlr_count} extended VLRs at offset {evlr_start}, "
                f"outside the {total}-byte file"
            )
    compressed = bool(point_format & 0xC0)
    if not compressed and point_offset + count * record > total:
        raise PointCloudError(
            f"{what} point data truncated: {count} points of {record} bytes from offset {point_offset} "
            f"need {point_offset + count * record} bytes, the file has {total}"
        )
    return compressed, header_size, vlr_count, point_offset, count


def _read_at(data: Source, offset: int, length: int) -> bytes:
    if isinstance(data, str | Path):
        with open(data, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)
    return bytes(memoryview(data).cast("B")[offset : offset + length])


def _check_laz_chunk_table(
    data: Source, total: int, header_size: int, vlr_count: int, point_offset: int, count: int
) -> None:
    """Bound the LAZ chunk table before lazrs sizes an allocation from it.

    lazrs trusts the table's chunk count; a corrupt count makes it request gigabytes and abort
    the process, which no exception handler can catch. Each chunk holds at least one compressed
    byte, and with a fixed chunk size the count follows from the point count.
    """
    vlrs = _read_at(data, header_size, point_offset - header_size)
    chunk_size: int | None = None
    pos = 0
    for _ in range(vlr_count):
        if pos + 54 > len(vlrs):
            raise PointCloudError("LAZ VLR headers run past the start of the point data")
        user_id, record_id, length = struct.unpack_from("<2x16sHH", vlrs, pos)
        if user_id.rstrip(b"\0") == b"laszip encoded" and record_id == 22204 and length >= 16:
            (chunk_size,) = struct.unpack_from("<I", vlrs, pos + 54 + 12)
        pos += 54 + length
    if chunk_size is None:
        raise PointCloudError("LAZ file has no laszip VLR describing its compression")
    if count == 0:
        return
    raw = _read_at(data, point_offset, 8)
    if len(raw) < 8:
        raise PointCloudError("LAZ point data truncated before its chunk table offset")
    (table_offset,) = struct.unpack("<q", raw)
    if table_offset == -1:  # written by a streaming encoder: the offset is the file's last 8 bytes
        (table_offset,) = struct.unpack("<q", _read_at(data, total - 8, 8))
    if not point_offset + 8 <= table_offset <= total - 8:
        raise PointCloudError(f"LAZ chunk table offset {table_offset} is outside the {total}-byte file")
    _version, chunks = struct.unpack("<II", _read_at(data, table_offset, 8))
    limit = total - point_offset
    if chunk_size != 0xFFFFFFFF and chunk_size > 0:
        limit = min(limit, -(-count // chunk_size) + 1)
    if chunks > limit:
        raise PointCloudError(
            f"LAZ chunk table announces {chunks} chunks, more than the file can hold ({limit})"
        )


def _read_laspy(data: Source, fmt: str) -> PointCloud:
    import laspy  # imported here: only LAS/LAZ reads pay for it
    import lazrs  # type: ignore[import-untyped]

    head, total = _las_head(data)
    compressed, header_size, vlr_count, point_offset, count = _check_las_header(head, total, fmt)
    if compressed:
        _check_laz_chunk_table(data, total, header_size, vlr_count, point_offset, count)
    selection = (
        laspy.DecompressionSelection.XY_RETURNS_CHANNEL
        | laspy.DecompressionSelection.Z
        | laspy.DecompressionSelection.INTENSITY
    )
    if isinstance(data, str | Path):
        try:
            stream: io.IOBase = open(data, "rb")  # noqa: SIM115 - closed below, laspy reads it lazily
        except OSError as error:
            raise PointCloudError(f"cannot open {data}: {error.strerror}") from error
    else:
        stream = io.BytesIO(data if isinstance(data, bytes) else bytes(data))
    what = fmt.upper()
    try:
        with laspy.open(
            stream, laz_backend=laspy.LazBackend.Lazrs, decompression_selection=selection, read_evlrs=False
        ) as reader:
            expected = int(reader.header.point_count)
            # Compressed points are read in bounded chunks, so a corrupt count cannot force a huge
            # allocation before the data runs out; uncompressed sizes were checked against the file.
            step = _LAZ_CHUNK_POINTS if reader.header.are_points_compressed else max(expected, 1)
            xyz_parts: list[np.ndarray] = []
            intensity_parts: list[np.ndarray] = []
            remaining = expected
            while remaining > 0:
                points = reader.read_points(min(step, remaining))
                if len(points) == 0:
                    break
                xyz_parts.append(_floats([np.asarray(points.x), np.asarray(points.y), np.asarray(points.z)]))
                intensity_parts.append(np.array(points.intensity, dtype=np.uint16))
                remaining -= len(points)
    except (laspy.LaspyException, lazrs.LazrsError) as error:
        raise PointCloudError(f"{what} file is corrupt or truncated: {error}") from error
    except (ValueError, IndexError, KeyError, struct.error, EOFError, OSError, OverflowError) as error:
        raise PointCloudError(f"malformed {what} file: {type(error).__name__}: {error}") from error
    except BaseException as error:
        # lazrs is Rust: on some corrupt streams it panics, which pyo3 raises as PanicException, a
        # BaseException subclass that cannot be named before it is first raised. Only that is mapped.
        if type(error).__name__ == "PanicException":
            raise PointCloudError(f"{what} decompression failed on corrupt data: {error}") from error
        raise
    finally:
        stream.close()
    if remaining:
        raise PointCloudError(
            f"{what} point data truncated: header announces {expected} points, {expected - remaining} present"
        )
    if len(xyz_parts) == 1:
        xyz, intensity = xyz_parts[0], intensity_parts[0]
    elif xyz_parts:
        xyz, intensity = np.concatenate(xyz_parts), np.concatenate(intensity_parts)
    else:
        xyz, intensity = np.zeros((0, 3)), np.zeros(0, dtype=np.uint16)
    return PointCloud(xyz=xyz, intensity=intensity, format=fmt)


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
) -> dict[str, np.ndarray]:
    vertex = elements[index]
    skip = sum(element.count for element in elements[:index])
    lines = bytes(buf[offset:]).splitlines()
    lines = [line for line in lines if line.strip()]
    rows = lines[skip : skip + vertex.count]
    if len(rows) < vertex.count:
        raise PointCloudError(
            f"PLY ascii data truncated: {vertex.count} vertices declared, {len(rows)} present"
        )
    width = len(vertex.properties)
    tokens = b" ".join(rows).split()
    if len(tokens) != vertex.count * width:
        raise PointCloudError(f"PLY ascii vertex lines do not all have {width} values")
    try:
        table = np.array(tokens, dtype=np.float64).reshape(vertex.count, width)
    except ValueError as error:
        raise PointCloudError(f"PLY ascii data has a non-numeric value: {error}") from None
    columns: dict[str, np.ndarray] = {}
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
    LAS: read_las,
    LAZ: read_laz,
    PLY: read_ply,
    KITTI_BIN: read_kitti_bin,
}
