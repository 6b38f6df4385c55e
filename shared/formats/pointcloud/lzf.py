"""LZF decompression for PCD ``binary_compressed`` payloads, through liblzf.

The decoding runs in C: ``python-neo-lzf`` binds liblzf (the library PCL itself uses) and ships
manylinux wheels for the Lambda runtime (python3.12, arm64), so the dependencies layer needs no
build step. A pure-Python decoder managed about 3.5 MB/s; ``make bench`` compares the two.

The size a PCD header announces is untrusted: before anything is allocated it must be within
``limit`` and within what the compressed bytes can expand to at all.
"""

from __future__ import annotations

import logging

import lzf as _liblzf  # python-neo-lzf

from shared.formats.pointcloud.model import PointCloudError

logger = logging.getLogger(__name__)

# The largest output one compressed byte can yield: a 3-byte back reference copies 264 bytes.
MAX_EXPANSION = 88
# The default ceiling on a decompressed block (a 2 GiB block is over 100 M points of x, y, z, i).
MAX_DECOMPRESSED_BYTES = 2 << 30


class LzfError(PointCloudError):
    """The LZF stream is corrupt or does not decode to the announced size."""


def _decode(data: bytes, expected_size: int) -> bytes | None:
    """liblzf's decoder: None when the output would exceed ``expected_size``, ValueError when corrupt."""
    result: bytes | None = _liblzf.decompress(data, expected_size)
    return result


def decompress(
    data: bytes | bytearray | memoryview, expected_size: int, *, limit: int = MAX_DECOMPRESSED_BYTES
) -> bytes:
    """Decode an LZF stream that must expand to exactly ``expected_size`` bytes (at most ``limit``)."""
    src = bytes(data)
    if expected_size > limit:
        raise LzfError(f"LZF block of {expected_size} bytes announced, above the limit of {limit} bytes")
    if expected_size > MAX_EXPANSION * len(src):
        raise LzfError(
            f"LZF stream of {len(src)} bytes cannot expand to {expected_size} bytes "
            f"(at most {MAX_EXPANSION} x its size): the announced size is wrong"
        )
    if expected_size == 0:
        if src:
            raise LzfError(f"LZF stream of {len(src)} bytes where an empty block was announced")
        return b""
    try:
        out = _decode(src, expected_size)
    except ValueError:
        raise LzfError(
            "LZF stream is corrupt: a literal run or back reference reaches outside the input or "
            "before the start of the output"
        ) from None
    if out is None:
        raise LzfError(f"LZF stream decodes to more than the {expected_size} bytes announced")
    if len(out) != expected_size:
        raise LzfError(f"LZF stream decoded to {len(out)} bytes, header announced {expected_size}")
    return out


def compress(data: bytes) -> bytes:
    """Encode ``data`` as LZF with liblzf; used to write sample files and in tests."""
    if not data:
        return b""
    # Incompressible input grows by one control byte per 32 literals.
    packed: bytes | None = _liblzf.compress(data, len(data) + len(data) // 32 + 16)
    if packed is None:
        raise LzfError(f"liblzf could not compress {len(data)} bytes")
    return packed
