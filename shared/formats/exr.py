"""OpenEXR: the header (version, flags, attributes) and, for the compressions decoded here, the pixels.

Plain functions over a binary file object (anything with ``read``, ``seek`` and ``tell``, such as an
open file, ``io.BytesIO`` or a ranged reader over S3), following the OpenEXR file layout
(openexr.com, "OpenEXR File Layout"):

* :func:`read_header` reads the magic number, the version field and its flags (``tiled``,
  ``long_names``, ``deep`` (non-image), ``multipart``) and every header's attributes; the
  well-known ones are decoded (``channels`` with their pixel types and sampling, ``compression``,
  ``dataWindow``, ``displayWindow``, ``lineOrder``, ``pixelAspectRatio``, ``tiles``, ``type``,
  ``name``). It reads the header bytes and nothing else.
* :func:`read_pixels` decodes the first part of a single-part scanline or tiled (one level) image
  stored uncompressed, ``ZIPS`` or ``ZIP`` (zlib, then the predictor and the byte interleave
  undone), with HALF, FLOAT and UINT channels sampled 1x1, into one ``float32`` array per channel.
  Every other compression (RLE, PIZ, PXR24, B44, B44A, DWAA, DWAB, HTJ2K), deep data, multipart
  files, mipmapped or ripmapped tiles and subsampled channels raise :class:`ExrUnsupportedError`,
  which callers report as "not checked", never as passed.

Broken files raise :class:`ExrError` (or a subclass) naming what is wrong and at which byte offset.
The ``OpenEXR`` bindings (3.5.3) ship manylinux_2_28 aarch64 wheels for cp312 and could replace
the decoder for the other compressions; this module keeps the layer free of native code.
"""

from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from shared.errors import PatternError

logger = logging.getLogger(__name__)

MAGIC = 20000630
MAGIC_BYTES = struct.pack("<i", MAGIC)
TILED_FLAG = 0x200
LONG_NAMES_FLAG = 0x400
NON_IMAGE_FLAG = 0x800
MULTIPART_FLAG = 0x1000
KNOWN_FLAGS = TILED_FLAG | LONG_NAMES_FLAG | NON_IMAGE_FLAG | MULTIPART_FLAG

PIXEL_TYPES = {0: "UINT", 1: "HALF", 2: "FLOAT"}
PIXEL_BYTES = {"UINT": 4, "HALF": 2, "FLOAT": 4}
NUMPY_TYPES = {"UINT": "<u4", "HALF": "<f2", "FLOAT": "<f4"}
COMPRESSIONS = {
    0: "NONE",
    1: "RLE",
    2: "ZIPS",
    3: "ZIP",
    4: "PIZ",
    5: "PXR24",
    6: "B44",
    7: "B44A",
    8: "DWAA",
    9: "DWAB",
    10: "HTJ2K256",
    11: "HTJ2K32",
}
# Scan lines per chunk of each compression (the layout's table).
LINES_PER_CHUNK = {
    "NONE": 1,
    "RLE": 1,
    "ZIPS": 1,
    "ZIP": 16,
    "PIZ": 32,
    "PXR24": 16,
    "B44": 32,
    "B44A": 32,
    "DWAA": 32,
    "DWAB": 256,
    "HTJ2K256": 256,
    "HTJ2K32": 32,
}
DECODED_COMPRESSIONS = ("NONE", "ZIPS", "ZIP")
LINE_ORDERS = {0: "INCREASING_Y", 1: "DECREASING_Y", 2: "RANDOM_Y"}
LEVEL_MODES = {0: "ONE_LEVEL", 1: "MIPMAP_LEVELS", 2: "RIPMAP_LEVELS"}

MAX_NAME = 255  # long names; 31 without the flag
MAX_ATTRIBUTES = 1024
MAX_ATTRIBUTE_BYTES = 16 << 20
MAX_PARTS = 1024
MAX_PIXELS = 1 << 28


class ExrError(PatternError):
    """The file is not a readable OpenEXR file; ``reason`` names what and ``offset`` where."""


class ExrTruncatedError(ExrError):
    """The file ends before a structure the layout says is there."""


class ExrUnsupportedError(ExrError):
    """A valid file whose pixels this module does not decode (reported as "not checked")."""


@dataclass(frozen=True)
class Channel:
    name: str
    pixel_type: str
    linear: bool = False
    x_sampling: int = 1
    y_sampling: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pixel_type": self.pixel_type,
            "linear": self.linear,
            "x_sampling": self.x_sampling,
            "y_sampling": self.y_sampling,
        }


Box = tuple[int, int, int, int]  # xMin, yMin, xMax, yMax (inclusive)


@dataclass
class Part:
    """One header: the attributes of one part (a single-part file has one)."""

    attributes: dict[str, Any] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    @property
    def channels(self) -> list[Channel]:
        return list(self.attributes.get("channels", []))

    @property
    def compression(self) -> str:
        return str(self.attributes.get("compression", ""))

    @property
    def data_window(self) -> Box:
        box: Box = self.attributes["dataWindow"]
        return box

    @property
    def display_window(self) -> Box:
        box: Box = self.attributes["displayWindow"]
        return box

    @property
    def width(self) -> int:
        return self.data_window[2] - self.data_window[0] + 1

    @property
    def height(self) -> int:
        return self.data_window[3] - self.data_window[1] + 1

    @property
    def tiles(self) -> dict[str, Any] | None:
        tiles = self.attributes.get("tiles")
        return dict(tiles) if tiles else None


@dataclass
class ExrHeader:
    """What the header says: the version field, its flags and each part's attributes."""

    version: int
    flags: int
    parts: list[Part]
    header_bytes: int  # bytes from the start of the file to the end of the header(s)

    @property
    def tiled(self) -> bool:
        return bool(self.flags & TILED_FLAG) or self.parts[0].attributes.get("type") in {
            "tiledimage",
            "deeptile",
        }

    @property
    def long_names(self) -> bool:
        return bool(self.flags & LONG_NAMES_FLAG)

    @property
    def deep(self) -> bool:
        return bool(self.flags & NON_IMAGE_FLAG) or any(
            str(p.attributes.get("type", "")).startswith("deep") for p in self.parts
        )

    @property
    def multipart(self) -> bool:
        return bool(self.flags & MULTIPART_FLAG)

    @property
    def part(self) -> Part:
        return self.parts[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary of the first part, the flags and the number of parts."""
        part = self.part
        tiles = part.tiles
        return {
            "format": "exr",
            "version": self.version,
            "flags": {
                "scanline": not self.tiled,
                "tiled": self.tiled,
                "multipart": self.multipart,
                "deep": self.deep,
                "long_names": self.long_names,
            },
            "parts": len(self.parts),
            "channels": [c.to_dict() for c in part.channels],
            "compression": part.compression,
            "data_window": list(part.data_window),
            "display_window": list(part.display_window),
            "width": part.width,
            "height": part.height,
            "pixel_aspect": part.attributes.get("pixelAspectRatio"),
            "line_order": part.attributes.get("lineOrder"),
            "tiles": tiles,
            "header_bytes": self.header_bytes,
        }


# -- reading helpers -----------------------------------------------------------------------------


def _read_exact(f: IO[bytes], size: int, what: str) -> bytes:
    offset = f.tell()
    data = f.read(size)
    if len(data) != size:
        raise ExrTruncatedError(
            f"file ends inside {what} at byte {offset} ({len(data)} of {size} bytes)",
            what=what,
            offset=offset,
        )
    return data


def _read_cstring(f: IO[bytes], limit: int, what: str) -> str:
    offset = f.tell()
    out = bytearray()
    while True:
        byte = f.read(1)
        if not byte:
            raise ExrTruncatedError(f"file ends inside {what} at byte {offset}", what=what, offset=offset)
        if byte == b"\0":
            break
        out += byte
        if len(out) > limit:
            raise ExrError(f"{what} at byte {offset} is longer than {limit} bytes", what=what, offset=offset)
    try:
        return out.decode("ascii")
    except UnicodeDecodeError as error:
        raise ExrError(f"{what} at byte {offset} is not ASCII", what=what, offset=offset) from error


def _channels(value: bytes, offset: int) -> list[Channel]:
    channels: list[Channel] = []
    pos = 0
    while True:
        end = value.find(b"\0", pos)
        if end < 0:
            raise ExrError(f"channel list at byte {offset} has no terminator", what="chlist", offset=offset)
        if end == pos:
            return channels
        name = value[pos:end].decode("ascii", "replace")
        pos = end + 1
        if pos + 16 > len(value):
            raise ExrError(
                f"channel {name!r} at byte {offset + pos} is cut short", what="chlist", offset=offset + pos
            )
        pixel_type, linear, x_sampling, y_sampling = struct.unpack_from("<iB3xii", value, pos)
        if pixel_type not in PIXEL_TYPES:
            raise ExrError(
                f"channel {name!r} has unknown pixel type {pixel_type} (byte {offset + pos})",
                what="chlist",
                offset=offset + pos,
            )
        channels.append(Channel(name, PIXEL_TYPES[pixel_type], bool(linear), x_sampling, y_sampling))
        pos += 16


def _decode(name: str, kind: str, value: bytes, offset: int) -> Any:
    def need(size: int) -> None:
        if len(value) < size:
            raise ExrError(
                f"attribute {name!r} ({kind}) at byte {offset} holds {len(value)} bytes, needs {size}",
                what=name,
                offset=offset,
            )

    if kind == "chlist":
        return _channels(value, offset)
    if kind == "compression":
        need(1)
        if value[0] not in COMPRESSIONS:
            raise ExrError(f"unknown compression {value[0]} at byte {offset}", what=name, offset=offset)
        return COMPRESSIONS[value[0]]
    if kind == "box2i":
        need(16)
        box = struct.unpack_from("<4i", value)
        if box[2] < box[0] or box[3] < box[1]:
            raise ExrError(
                f"attribute {name!r} at byte {offset} is an empty box {box}", what=name, offset=offset
            )
        return box
    if kind == "lineOrder":
        need(1)
        return LINE_ORDERS.get(value[0], str(value[0]))
    if kind == "float":
        need(4)
        return round(struct.unpack_from("<f", value)[0], 6)
    if kind == "int":
        need(4)
        return struct.unpack_from("<i", value)[0]
    if kind == "v2f":
        need(8)
        return [round(v, 6) for v in struct.unpack_from("<2f", value)]
    if kind == "tiledesc":
        need(9)
        x_size, y_size, mode = struct.unpack_from("<IIB", value)
        return {
            "x_size": x_size,
            "y_size": y_size,
            "level_mode": LEVEL_MODES.get(mode & 0x0F, str(mode & 0x0F)),
            "rounding": "ROUND_UP" if mode >> 4 else "ROUND_DOWN",
        }
    if kind == "string":
        return value.decode("utf-8", "replace")
    return None  # kept only as its type


REQUIRED = ("channels", "compression", "dataWindow", "displayWindow", "lineOrder", "pixelAspectRatio")


def _read_part(f: IO[bytes], max_name: int) -> Part | None:
    """One header's attributes; None at the empty header that ends a multipart header list."""
    part = Part()
    for _ in range(MAX_ATTRIBUTES):
        start = f.tell()
        name = _read_cstring(f, max_name, "attribute name")
        if not name:
            return part if part.attributes or part.types else None
        kind = _read_cstring(f, max_name, f"type of attribute {name!r}")
        (size,) = struct.unpack("<i", _read_exact(f, 4, f"size of attribute {name!r}"))
        if size < 0 or size > MAX_ATTRIBUTE_BYTES:
            raise ExrError(f"attribute {name!r} at byte {start} has size {size}", what=name, offset=start)
        value_at = f.tell()
        value = _read_exact(f, size, f"value of attribute {name!r}")
        part.types[name] = kind
        decoded = _decode(name, kind, value, value_at)
        if decoded is not None:
            part.attributes[name] = decoded
    raise ExrError(f"more than {MAX_ATTRIBUTES} attributes in one header", what="header", offset=f.tell())


def read_header(f: IO[bytes]) -> ExrHeader:
    """The magic number, version field and every part's header; the position ends after the headers."""
    start = f.tell()
    head = _read_exact(f, 8, "magic number and version")
    if head[:4] != MAGIC_BYTES:
        raise ExrError(f"not an OpenEXR file: magic number {head[:4].hex()} at byte {start}", offset=start)
    (field_,) = struct.unpack_from("<I", head, 4)
    version, flags = field_ & 0xFF, field_ & ~0xFF
    if version != 2:
        raise ExrError(f"unsupported OpenEXR version {version} (byte {start + 4})", offset=start + 4)
    if flags & ~KNOWN_FLAGS:
        raise ExrError(f"unknown flags {flags & ~KNOWN_FLAGS:#x} in the version field", offset=start + 4)
    max_name = MAX_NAME if flags & LONG_NAMES_FLAG else 31
    parts: list[Part] = []
    if flags & MULTIPART_FLAG:
        for _ in range(MAX_PARTS):
            part = _read_part(f, max_name)
            if part is None:
                break
            parts.append(part)
        else:
            raise ExrError(f"more than {MAX_PARTS} parts", offset=f.tell())
    else:
        part = _read_part(f, max_name)
        if part is not None:
            parts.append(part)
    if not parts:
        raise ExrError("the file has no header", offset=start + 8)
    for index, part in enumerate(parts):
        missing = [name for name in REQUIRED if name not in part.attributes]
        if flags & TILED_FLAG and "tiles" not in part.attributes:
            missing.append("tiles")
        if missing:
            raise ExrError(
                f"header {index} lacks required attribute(s) {', '.join(missing)}",
                what="header",
                part=index,
                missing=missing,
            )
    return ExrHeader(version, flags, parts, f.tell() - start)


# -- pixels --------------------------------------------------------------------------------------


def _unzip(data: bytes, expected: int, offset: int) -> bytes:
    """ZIP/ZIPS chunk data: zlib, then the predictor and the even/odd byte split undone."""
    if len(data) >= expected:
        return data[:expected]  # stored raw when compression would not shrink it
    try:
        raw = zlib.decompress(data)
    except zlib.error as error:
        raise ExrError(f"chunk at byte {offset}: zlib data is corrupt ({error})", offset=offset) from error
    if len(raw) != expected:
        raise ExrError(
            f"chunk at byte {offset} inflates to {len(raw)} bytes, expected {expected}", offset=offset
        )
    # The predictor: t[0] stays, t[i] = t[i-1] + d[i] - 128 (mod 256), a running sum in uint8.
    deltas = np.frombuffer(raw, dtype=np.uint8) - np.uint8(128)
    deltas[0] = raw[0]
    undone = np.cumsum(deltas, dtype=np.uint8)
    half = (expected + 1) // 2
    out = np.empty(expected, dtype=np.uint8)
    out[0::2] = undone[:half]
    out[1::2] = undone[half:]
    return out.tobytes()


def _chunk_data(raw: bytes, compression: str, expected: int, offset: int) -> bytes:
    if compression == "NONE":
        if len(raw) != expected:
            raise ExrError(
                f"uncompressed chunk at byte {offset} holds {len(raw)} bytes, expected {expected}",
                offset=offset,
            )
        return raw
    return _unzip(raw, expected, offset)


def _offsets(f: IO[bytes], count: int, file_size: int) -> list[int]:
    table = _read_exact(f, 8 * count, "offset table")
    offsets = list(struct.unpack(f"<{count}Q", table))
    for index, offset in enumerate(offsets):
        if offset == 0 or offset >= file_size:
            raise ExrTruncatedError(
                f"chunk {index} points at byte {offset}, beyond the end of the file ({file_size} bytes)",
                what="offset table",
                offset=offset,
                chunk=index,
            )
    return offsets


def _check_decodable(header: ExrHeader) -> Part:
    part = header.part
    if header.multipart or header.deep:
        raise ExrUnsupportedError("multipart and deep files are not decoded")
    if part.compression not in DECODED_COMPRESSIONS:
        raise ExrUnsupportedError(f"{part.compression} compression is not decoded")
    if any(c.x_sampling != 1 or c.y_sampling != 1 for c in part.channels):
        raise ExrUnsupportedError("subsampled channels are not decoded")
    tiles = part.tiles
    if header.tiled and (not tiles or tiles["level_mode"] != "ONE_LEVEL"):
        raise ExrUnsupportedError("mipmapped and ripmapped tiles are not decoded")
    if part.width * part.height > MAX_PIXELS:
        raise ExrUnsupportedError(f"{part.width}x{part.height} is above the decoder's pixel cap")
    return part


def _split_lines(data: bytes, channels: list[Channel], width: int, lines: int) -> dict[str, np.ndarray]:
    """Per channel, a (lines, width) array from chunk data laid out line by line, channel by channel."""
    out: dict[str, np.ndarray] = {}
    row_bytes = sum(PIXEL_BYTES[c.pixel_type] for c in channels) * width
    rows = np.frombuffer(data, dtype=np.uint8).reshape(lines, row_bytes)
    pos = 0
    for channel in channels:
        size = PIXEL_BYTES[channel.pixel_type] * width
        block = np.ascontiguousarray(rows[:, pos : pos + size])
        out[channel.name] = (
            block.view(NUMPY_TYPES[channel.pixel_type]).reshape(lines, width).astype(np.float32)
        )
        pos += size
    return out


def read_pixels(f: IO[bytes], file_size: int) -> tuple[ExrHeader, dict[str, np.ndarray]]:
    """The header and one float32 (height, width) array per channel of the first part."""
    header = read_header(f)
    part = _check_decodable(header)
    channels = sorted(part.channels, key=lambda c: c.name)
    y0 = part.data_window[1]
    width, height = part.width, part.height
    pixel_row = sum(PIXEL_BYTES[c.pixel_type] for c in channels)
    planes = {c.name: np.zeros((height, width), dtype=np.float32) for c in channels}
    if header.tiled:
        tiles = part.tiles or {}
        tx, ty = int(tiles["x_size"]), int(tiles["y_size"])
        across, down = -(-width // tx), -(-height // ty)
        for offset in _offsets(f, across * down, file_size):
            f.seek(offset)
            tile_x, tile_y, level_x, level_y, size = struct.unpack(
                "<5i", _read_exact(f, 20, f"tile header at byte {offset}")
            )
            if not (0 <= tile_x < across and 0 <= tile_y < down) or level_x or level_y:
                raise ExrError(f"tile at byte {offset} has coordinates ({tile_x}, {tile_y})", offset=offset)
            w = min(tx, width - tile_x * tx)
            h = min(ty, height - tile_y * ty)
            raw = _read_exact(f, size, f"tile data at byte {offset}")
            data = _chunk_data(raw, part.compression, pixel_row * w * h, offset)
            for name, block in _split_lines(data, channels, w, h).items():
                planes[name][tile_y * ty : tile_y * ty + h, tile_x * tx : tile_x * tx + w] = block
        return header, planes
    per_chunk = LINES_PER_CHUNK[part.compression]
    for offset in _offsets(f, -(-height // per_chunk), file_size):
        f.seek(offset)
        y, size = struct.unpack("<ii", _read_exact(f, 8, f"chunk header at byte {offset}"))
        row = y - y0
        if row < 0 or row >= height or row % per_chunk:
            raise ExrError(
                f"chunk at byte {offset} starts at line {y}, outside the data window", offset=offset
            )
        lines = min(per_chunk, height - row)
        raw = _read_exact(f, size, f"chunk data at byte {offset}")
        data = _chunk_data(raw, part.compression, pixel_row * width * lines, offset)
        for name, block in _split_lines(data, channels, width, lines).items():
            planes[name][row : row + lines] = block
    return header, planes
