"""DPX (SMPTE 268M): the file and image headers in either byte order, and the common pixel layouts.

Plain functions over a binary file object. :func:`read_header` reads the 768-byte file information
header (magic ``SDPX`` big-endian or ``XPDS`` little-endian, image offset, version, file size,
header sizes, file name, time stamp, creator, project) and the 640-byte image information header
(orientation, element count, pixels per line, lines per element, and per element the data sign,
reference values, descriptor, transfer, colorimetric, bit depth, packing, encoding and data
offset): 1408 bytes in all. :func:`read_pixels` decodes the first element when it is unencoded
RGB (descriptor 50) or luma (6) at 8, 10 (packing 1 "filled, method A" or 2 "method B") or 16
bits, into float32 planes scaled to [0, 1]. Other layouts raise :class:`DpxUnsupportedError`,
which callers report as "not checked". Broken files raise :class:`DpxError` naming what and where.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from shared.errors import PatternError

logger = logging.getLogger(__name__)

MAGIC_BIG = b"SDPX"
MAGIC_LITTLE = b"XPDS"
FILE_HEADER_BYTES = 768
IMAGE_HEADER_BYTES = 640
HEADER_BYTES = FILE_HEADER_BYTES + IMAGE_HEADER_BYTES
ELEMENT_BYTES = 72
UNDEFINED_U32 = 0xFFFFFFFF
DESCRIPTORS = {0: "user", 1: "R", 2: "G", 3: "B", 4: "A", 6: "Y", 50: "RGB", 51: "RGBA", 52: "ABGR"}
COMPONENTS = {1: 1, 2: 1, 3: 1, 4: 1, 6: 1, 50: 3, 51: 4, 52: 4}
ORIENTATIONS = {0: "left-to-right, top-to-bottom"}
MAX_PIXELS = 1 << 28


class DpxError(PatternError):
    """The file is not a readable DPX file; ``reason`` names what and ``offset`` where."""


class DpxTruncatedError(DpxError):
    """The file ends before a structure the headers say is there."""


class DpxUnsupportedError(DpxError):
    """A valid file whose pixel layout this module does not decode (reported as "not checked")."""


@dataclass(frozen=True)
class Element:
    data_sign: int
    ref_low: int
    ref_high: int
    descriptor: int
    transfer: int
    colorimetric: int
    bit_depth: int
    packing: int
    encoding: int
    data_offset: int
    eol_padding: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "descriptor": DESCRIPTORS.get(self.descriptor, str(self.descriptor)),
            "bit_depth": self.bit_depth,
            "packing": self.packing,
            "encoding": "RLE" if self.encoding else "NONE",
            "data_sign": "signed" if self.data_sign else "unsigned",
            "transfer": self.transfer,
            "colorimetric": self.colorimetric,
            "data_offset": self.data_offset,
        }


@dataclass
class DpxHeader:
    byte_order: str  # "big" or "little"
    version: str
    image_offset: int
    file_size: int
    generic_size: int
    industry_size: int
    user_size: int
    file_name: str
    timestamp: str
    creator: str
    project: str
    orientation: int
    width: int
    height: int
    elements: list[Element] = field(default_factory=list)

    @property
    def endian(self) -> str:
        return ">" if self.byte_order == "big" else "<"

    def to_dict(self) -> dict[str, Any]:
        first = self.elements[0]
        return {
            "format": "dpx",
            "byte_order": self.byte_order,
            "version": self.version,
            "image_offset": self.image_offset,
            "file_size": self.file_size,
            "file_name": self.file_name,
            "timestamp": self.timestamp,
            "creator": self.creator,
            "project": self.project,
            "orientation": self.orientation,
            "width": self.width,
            "height": self.height,
            "elements": [e.to_dict() for e in self.elements],
            # The fields a sequence compares frame to frame, named as for EXR.
            "channels": [
                {
                    "name": DESCRIPTORS.get(first.descriptor, str(first.descriptor)),
                    "pixel_type": f"{first.bit_depth}-bit",
                }
            ],
            "compression": "RLE" if first.encoding else "NONE",
            "data_window": [0, 0, self.width - 1, self.height - 1],
            "header_bytes": HEADER_BYTES,
        }


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def read_header(f: IO[bytes]) -> DpxHeader:
    """The file and image headers (1408 bytes from the current position)."""
    start = f.tell()
    data = f.read(HEADER_BYTES)
    if len(data) < 4:
        raise DpxTruncatedError(
            f"file ends at byte {start + len(data)}, before the magic number", offset=start
        )
    if data[:4] == MAGIC_BIG:
        order, e = "big", ">"
    elif data[:4] == MAGIC_LITTLE:
        order, e = "little", "<"
    else:
        raise DpxError(f"not a DPX file: magic {data[:4]!r} at byte {start}", offset=start)
    if len(data) < HEADER_BYTES:
        what = "file information header" if len(data) < FILE_HEADER_BYTES else "image information header"
        raise DpxTruncatedError(
            f"file ends inside the {what} at byte {start + len(data)} ({len(data)} of {HEADER_BYTES} bytes)",
            what=what,
            offset=start + len(data),
        )
    image_offset, version, file_size, _ditto, generic, industry, user = struct.unpack_from(
        f"{e}I8sIIIII", data, 4
    )
    version_text = _text(version)
    if not version_text.startswith("V"):
        raise DpxError(
            f"version field {version!r} at byte {start + 8} is not 'V1.0' or 'V2.0'", offset=start + 8
        )
    if image_offset < HEADER_BYTES:
        raise DpxError(
            f"image data offset {image_offset} (byte {start + 4}) points inside the headers", offset=start + 4
        )
    orientation, count, width, height = struct.unpack_from(f"{e}HHII", data, 768)
    if not 1 <= count <= 8:
        raise DpxError(f"element count {count} at byte {start + 770} is not 1..8", offset=start + 770)
    if width == 0 or height == 0 or width == UNDEFINED_U32 or height == UNDEFINED_U32:
        raise DpxError(f"image size {width}x{height} at byte {start + 772} is undefined", offset=start + 772)
    elements = []
    for index in range(count):
        at = 780 + index * ELEMENT_BYTES
        sign, low, _lq, high, _hq, desc, transfer, colori, depth, packing, encoding, offset, eol = (
            struct.unpack_from(f"{e}IIfIfBBBBHHII", data, at)
        )
        if depth not in (1, 8, 10, 12, 16, 32, 64):
            raise DpxError(
                f"element {index} has bit depth {depth} (byte {start + at + 23})", offset=start + at + 23
            )
        elements.append(
            Element(sign, low, high, desc, transfer, colori, depth, packing, encoding, offset, eol)
        )
    return DpxHeader(
        byte_order=order,
        version=version_text,
        image_offset=image_offset,
        file_size=file_size,
        generic_size=generic,
        industry_size=industry,
        user_size=user,
        file_name=_text(data[36:136]),
        timestamp=_text(data[136:160]),
        creator=_text(data[160:260]),
        project=_text(data[260:460]),
        orientation=orientation,
        width=width,
        height=height,
        elements=elements,
    )


def read_pixels(f: IO[bytes], file_size: int) -> tuple[DpxHeader, dict[str, np.ndarray]]:
    """The header and the first element as float32 (height, width) planes in [0, 1]."""
    start = f.tell()
    header = read_header(f)
    element = header.elements[0]
    components = COMPONENTS.get(element.descriptor)
    if element.encoding:
        raise DpxUnsupportedError("run-length encoded DPX is not decoded")
    if element.descriptor not in (6, 50) or components is None:
        raise DpxUnsupportedError(f"descriptor {element.descriptor} is not decoded")
    if element.bit_depth not in (8, 10, 16) or (element.bit_depth == 10 and element.packing not in (1, 2)):
        raise DpxUnsupportedError(f"{element.bit_depth}-bit packing {element.packing} is not decoded")
    width, height = header.width, header.height
    if width * height > MAX_PIXELS:
        raise DpxUnsupportedError(f"{width}x{height} is above the decoder's pixel cap")
    values = width * components
    e = header.endian
    if element.bit_depth == 10:
        row_bytes = -(-values // 3) * 4
    elif element.bit_depth == 8:
        row_bytes = -(-values // 4) * 4
    else:
        row_bytes = -(-values // 2) * 4
    row_bytes += element.eol_padding if element.eol_padding != UNDEFINED_U32 else 0
    offset = element.data_offset if element.data_offset not in (0, UNDEFINED_U32) else header.image_offset
    need = offset + row_bytes * height
    if need > file_size:
        raise DpxTruncatedError(
            f"image data needs bytes {offset}..{need} but the file has {file_size}",
            what="image data",
            offset=file_size,
        )
    f.seek(start + offset)
    raw = f.read(row_bytes * height)
    if len(raw) < row_bytes * height:
        raise DpxTruncatedError(
            f"file ends inside the image data at byte {start + offset + len(raw)}", offset=offset
        )
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, row_bytes)
    if element.bit_depth == 10:
        words = np.ascontiguousarray(rows[:, : -(-values // 3) * 4]).view(f"{e}u4").astype(np.uint32)
        shifts = (22, 12, 2) if element.packing == 1 else (20, 10, 0)
        comps = np.stack([(words >> s) & 0x3FF for s in shifts], axis=-1).reshape(height, -1)[:, :values]
        scale = 1023.0
    elif element.bit_depth == 8:
        comps = rows[:, :values].astype(np.uint32)
        scale = 255.0
    else:
        comps = np.ascontiguousarray(rows[:, : values * 2]).view(f"{e}u2").astype(np.uint32)
        scale = 65535.0
    pixels = comps.reshape(height, width, components).astype(np.float32) / scale
    names = "RGB" if components == 3 else "Y"
    return header, {name: pixels[:, :, i] for i, name in enumerate(names)}
