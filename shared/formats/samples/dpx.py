"""DPX sample writer: SMPTE 268M files built field by field, big- or little-endian.

Writes the 768-byte file information header, the 640-byte image information header with one RGB
element, empty orientation and film/TV headers (2048 bytes of headers in all), then 10-bit RGB
packed three components to a 32-bit word (packing 1, "filled, method A") or 8/16-bit components.
Used by tests, demos and the bench, never by a function.
"""

from __future__ import annotations

import logging
import struct

import numpy as np

logger = logging.getLogger(__name__)

IMAGE_OFFSET = 2048


def write(
    rgb: np.ndarray,
    *,
    byte_order: str = "big",
    bit_depth: int = 10,
    file_name: str = "frame.dpx",
    creator: str = "fsxn-patterns sample writer",
) -> bytes:
    """A DPX file of ``rgb`` ((height, width, 3) floats in [0, 1])."""
    e = ">" if byte_order == "big" else "<"
    height, width, _ = rgb.shape
    levels = (1 << bit_depth) - 1
    comps = np.clip(np.round(rgb * levels), 0, levels).astype(np.uint32).reshape(height, width * 3)
    if bit_depth == 10:
        words = (comps[:, 0::3] << 22) | (comps[:, 1::3] << 12) | (comps[:, 2::3] << 2)
        data = words.astype(f"{e}u4").tobytes()
    elif bit_depth == 8:
        pad = (-(width * 3)) % 4
        data = np.pad(comps.astype(np.uint8), ((0, 0), (0, pad))).tobytes()
    else:
        pad = (-(width * 3)) % 2
        data = np.pad(comps.astype(f"{e}u2"), ((0, 0), (0, pad))).tobytes()
    size = IMAGE_OFFSET + len(data)
    head = bytearray(IMAGE_OFFSET)
    struct.pack_into(
        f"{e}4sI8sIIIII",
        head,
        0,
        b"SDPX" if e == ">" else b"XPDS",
        IMAGE_OFFSET,
        b"V2.0",
        size,
        1,
        1664,
        384,
        0,
    )
    struct.pack_into(
        "100s24s100s200s200s",
        head,
        36,
        file_name.encode(),
        b"2026:11:26:10:00:00",
        creator.encode(),
        b"fsxn-patterns",
        b"",
    )
    struct.pack_into(f"{e}I", head, 660, 0xFFFFFFFF)
    struct.pack_into(f"{e}HHII", head, 768, 0, 1, width, height)
    struct.pack_into(
        f"{e}IIfIfBBBBHHII",
        head,
        780,
        0,
        0,
        0.0,
        levels,
        2.047,
        50,
        2,
        2,
        bit_depth,
        1 if bit_depth == 10 else 0,
        0,
        IMAGE_OFFSET,
        0,
    )
    # Elements 2..8 undefined.
    for index in range(1, 8):
        struct.pack_into(f"{e}I", head, 780 + index * 72, 0xFFFFFFFF)
    return bytes(head) + data
