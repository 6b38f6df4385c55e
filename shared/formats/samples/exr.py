"""OpenEXR sample writer: real files built byte by byte from the OpenEXR file layout.

Pillow cannot write EXR and the project keeps native libraries out of its tools, so this writer
lays the file out itself: magic number, version field (tiled flag for tiled files), the header's
attributes (``channels``, ``compression``, ``dataWindow``, ``displayWindow``, ``lineOrder``,
``pixelAspectRatio``, ``screenWindowCenter``, ``screenWindowWidth`` and ``tiles``), the offset
table, then scan-line chunks (1 line for NONE and ZIPS, 16 for ZIP) or one-level tiles, with HALF,
FLOAT or UINT channels. ZIP/ZIPS data is interleaved, run through the predictor and deflated, and
stored raw when deflate would not shrink it, as the library does. Used by tests, demos and the
bench, never by a function.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

_PIXEL_TYPE = {"UINT": 0, "HALF": 1, "FLOAT": 2}
_NUMPY = {"UINT": "<u4", "HALF": "<f2", "FLOAT": "<f4"}
_COMPRESSION = {"NONE": 0, "ZIPS": 2, "ZIP": 3}
_LINES = {"NONE": 1, "ZIPS": 1, "ZIP": 16}


def _attribute(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def _chlist(channels: Sequence[str], pixel_type: str) -> bytes:
    out = b""
    for name in sorted(channels):
        out += name.encode() + b"\0" + struct.pack("<iB3xii", _PIXEL_TYPE[pixel_type], 0, 1, 1)
    return out + b"\0"


def zip_encode(raw: bytes) -> bytes:
    """ZIP/ZIPS chunk data: even/odd byte split, predictor, deflate (raw if that does not shrink)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    split = np.concatenate((buf[0::2], buf[1::2])).astype(np.int16)
    diff = split.copy()
    diff[1:] = (split[1:] - split[:-1] + 128) & 0xFF
    packed = zlib.compress(diff.astype(np.uint8).tobytes(), 6)
    return packed if len(packed) < len(raw) else raw


def _rows(
    planes: Mapping[str, np.ndarray],
    names: Sequence[str],
    pixel_type: str,
    y: int,
    lines: int,
    x: int = 0,
    width: int | None = None,
) -> bytes:
    out = bytearray()
    for row in range(y, y + lines):
        for name in names:
            plane = planes[name]
            end = plane.shape[1] if width is None else x + width
            out += plane[row, x:end].astype(_NUMPY[pixel_type]).tobytes()
    return bytes(out)


def write(
    planes: Mapping[str, np.ndarray],
    *,
    pixel_type: str = "HALF",
    compression: str = "NONE",
    tile_size: int | None = None,
    origin: tuple[int, int] = (0, 0),
    display: tuple[int, int, int, int] | None = None,
    pixel_aspect: float = 1.0,
) -> bytes:
    """An EXR file of ``planes`` (channel name -> (height, width) array, all the same shape)."""
    names = sorted(planes)
    height, width = next(iter(planes.values())).shape
    x0, y0 = origin
    data_window = (x0, y0, x0 + width - 1, y0 + height - 1)
    display_window = display or data_window
    attributes = [
        _attribute("channels", "chlist", _chlist(names, pixel_type)),
        _attribute("compression", "compression", bytes([_COMPRESSION[compression]])),
        _attribute("dataWindow", "box2i", struct.pack("<4i", *data_window)),
        _attribute("displayWindow", "box2i", struct.pack("<4i", *display_window)),
        _attribute("lineOrder", "lineOrder", b"\0"),
        _attribute("pixelAspectRatio", "float", struct.pack("<f", pixel_aspect)),
        _attribute("screenWindowCenter", "v2f", struct.pack("<2f", 0.0, 0.0)),
        _attribute("screenWindowWidth", "float", struct.pack("<f", 1.0)),
    ]
    version = 2
    if tile_size:
        attributes.append(_attribute("tiles", "tiledesc", struct.pack("<IIB", tile_size, tile_size, 0)))
        version |= 0x200
    header = struct.pack("<iI", 20000630, version) + b"".join(sorted(attributes)) + b"\0"
    chunks: list[bytes] = []
    if tile_size:
        for ty in range(-(-height // tile_size)):
            for tx in range(-(-width // tile_size)):
                w = min(tile_size, width - tx * tile_size)
                h = min(tile_size, height - ty * tile_size)
                raw = _rows(planes, names, pixel_type, ty * tile_size, h, tx * tile_size, w)
                data = raw if compression == "NONE" else zip_encode(raw)
                chunks.append(struct.pack("<5i", tx, ty, 0, 0, len(data)) + data)
    else:
        per = _LINES[compression]
        for row in range(0, height, per):
            lines = min(per, height - row)
            raw = _rows(planes, names, pixel_type, row, lines)
            data = raw if compression == "NONE" else zip_encode(raw)
            chunks.append(struct.pack("<ii", y0 + row, len(data)) + data)
    table_at = len(header)
    offset = table_at + 8 * len(chunks)
    offsets = []
    for chunk in chunks:
        offsets.append(offset)
        offset += len(chunk)
    return header + struct.pack(f"<{len(offsets)}Q", *offsets) + b"".join(chunks)


def gradient(
    width: int, height: int, *, seed: int = 0, scale: float = 1.0, channels: str = "RGB"
) -> dict[str, np.ndarray]:
    """A smooth test image (a ramp per channel, shifted by ``seed``), values in [0, scale]."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = (xx / max(width - 1, 1) + yy / max(height - 1, 1)) / 2.0
    planes: dict[str, np.ndarray] = {}
    for index, name in enumerate(channels):
        shift = ((seed * 7 + index * 3) % 10) / 20.0
        planes[name] = (((base + shift) % 1.0) * scale).astype(np.float32)
    if "A" in channels:
        planes["A"] = np.ones((height, width), dtype=np.float32)
    return planes
