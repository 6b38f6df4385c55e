"""LAS 1.2-1.4 and LAZ, through laspy with the lazrs backend.

Kept apart from the other readers so that only a LAS/LAZ read compiles this module and imports
laspy and lazrs. The header and the LAZ chunk table are checked before laspy sees the file: laspy
would over-allocate on impossible counts, and lazrs aborts the process on a corrupt chunk table.
"""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import laspy
import lazrs  # type: ignore[import-untyped]
import numpy as np

from shared.formats.pointcloud.model import PointCloud, PointCloudError
from shared.formats.pointcloud.readers import Source, _floats

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)


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


def read(data: Source, fmt: str) -> PointCloud:
    """LAS 1.2-1.4 (``fmt`` ``las``) or LAZ (``laz``, decompressed by lazrs) from bytes or a path."""

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
            xyz_parts: list[NDArray[Any]] = []
            intensity_parts: list[NDArray[Any]] = []
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
