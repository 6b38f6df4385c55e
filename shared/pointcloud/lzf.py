"""LZF decompression for PCD ``binary_compressed`` payloads.

Hand-written on purpose: the format is a few lines (literal runs and back references), and no
maintained LZF package ships pinned wheels for the Lambda runtime (python3.12, arm64). The loop
runs once per LZF token, not per byte: literal runs and back references are copied as slices, so a
token moves up to 32 (literal) or 264 (reference) bytes at a time.
"""

from __future__ import annotations

import logging

from shared.pointcloud.model import PointCloudError

logger = logging.getLogger(__name__)


class LzfError(PointCloudError):
    """The LZF stream is corrupt or does not decode to the announced size."""


def decompress(data: bytes | bytearray | memoryview, expected_size: int) -> bytes:
    """Decode an LZF stream that must expand to exactly ``expected_size`` bytes."""
    src = bytes(data)
    out = bytearray()
    n = len(src)
    i = 0
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > n:
                raise LzfError(f"LZF literal run of {run} bytes at offset {i - 1} overruns the input")
            out += src[i : i + run]
            i += run
            if len(out) > expected_size:
                break
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise LzfError("LZF stream ends inside a back-reference length")
            length += src[i]
            i += 1
        if i >= n:
            raise LzfError("LZF stream ends inside a back-reference offset")
        distance = ((ctrl & 0x1F) << 8) + src[i] + 1
        i += 1
        length += 2
        start = len(out) - distance
        if start < 0:
            raise LzfError(f"LZF back reference {distance} bytes before the start of the output")
        if distance >= length:
            out += out[start : start + length]
        else:
            # Overlapping reference: the copied bytes repeat with period ``distance``.
            pattern = out[start:]
            out += (pattern * (length // distance + 1))[:length]
        if len(out) > expected_size:
            break
    if len(out) != expected_size:
        raise LzfError(f"LZF stream decoded to {len(out)} bytes, header announced {expected_size}")
    return bytes(out)


def compress(data: bytes) -> bytes:
    """Encode ``data`` as LZF (greedy, hash of 3 bytes); used to write sample files and in tests.

    Deliberately simple and slow (pure Python); readers never need it.
    """
    out = bytearray()
    table: dict[bytes, int] = {}
    n = len(data)
    literal_start = 0
    i = 0

    def flush_literals(end: int) -> None:
        start = literal_start
        while start < end:
            run = min(32, end - start)
            out.append(run - 1)
            out.extend(data[start : start + run])
            start += run

    while i + 2 < n:
        key = data[i : i + 3]
        candidate = table.get(key)
        table[key] = i
        if candidate is not None and 0 < i - candidate <= 8192:
            distance = i - candidate
            length = 3
            limit = min(264, n - i)
            while length < limit and data[candidate + length] == data[i + length]:
                length += 1
            flush_literals(i)
            encoded = length - 2
            off = distance - 1
            if encoded < 7:
                out.append((encoded << 5) | (off >> 8))
            else:
                out.append((7 << 5) | (off >> 8))
                out.append(encoded - 7)
            out.append(off & 0xFF)
            i += length
            literal_start = i
        else:
            i += 1
    flush_literals(n)
    return bytes(out)
