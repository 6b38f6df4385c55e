"""UC4 media-vfx: header bytes read per frame against the frame's size, and pixel-check frames/s.

Frames are 2K (2048x1080) RGBA: EXR HALF with ZIP (16-line chunks), EXR HALF with ZIPS (1-line
chunks), EXR FLOAT uncompressed and tiled, and DPX 10-bit RGB, built by the project's byte-level
writers. The header is read through the frame function's ranged reader
(``media_vfx.frames.RangedFile``): the figure is the bytes fetched, beside the frame's size (the
ratio is the share of the frame the header check costs; target 1 % or less). The pixel check
(decode, NaN/Inf counts, finite min/max/mean, black test) runs on the frame's bytes in memory,
beside a baseline of inflating the same chunks with zlib alone (the floor any decoder pays), so
the ratio shows what the predictor, interleave and statistics add. Target for 2K HALF ZIP: at
least a quarter of the zlib floor's frames/s (the decoder and statistics cost at most three times
what inflating alone costs); the absolute frames/s depend on the machine and are printed as is.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import struct
import zlib
from collections.abc import Callable
from typing import IO, cast

import numpy as np

from media_vfx import frames
from scripts.bench import Report, stopwatch
from shared.formats import exr
from shared.formats.samples import dpx as dpx_writer
from shared.formats.samples import exr as exr_writer

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 2048, 1080
HEADER_SHARE_TARGET = 0.01
FLOOR_SHARE_TARGET = 0.25


def _best(action: Callable[[], object], repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        with stopwatch() as elapsed:
            action()
        best = min(best, elapsed())
    return best


def _samples() -> dict[str, tuple[str, bytes]]:
    planes = exr_writer.gradient(WIDTH, HEIGHT, channels="RGBA", seed=1)
    noise = np.random.default_rng(0).normal(0.0, 0.01, (HEIGHT, WIDTH)).astype(np.float32)
    planes = {k: v + noise if k != "A" else v for k, v in planes.items()}
    rgb = np.clip(np.stack([planes[c] for c in "RGB"], axis=-1), 0.0, 1.0)
    return {
        "exr half zip": ("exr", exr_writer.write(planes, pixel_type="HALF", compression="ZIP")),
        "exr half zips": ("exr", exr_writer.write(planes, pixel_type="HALF", compression="ZIPS")),
        "exr float none tiled": ("exr", exr_writer.write(planes, pixel_type="FLOAT", tile_size=64)),
        "dpx 10-bit": ("dpx", dpx_writer.write(rgb, byte_order="big")),
    }


def _inflate_only(data: bytes) -> None:
    """The zlib floor: every chunk of a scan-line EXR inflated, nothing else."""
    f = io.BytesIO(data)
    header = exr.read_header(f)
    per = exr.LINES_PER_CHUNK[header.part.compression]
    count = -(-header.part.height // per)
    offsets = struct.unpack(f"<{count}Q", f.read(8 * count))
    for offset in offsets:
        _, size = struct.unpack_from("<ii", data, offset)
        zlib.decompress(data[offset + 8 : offset + 8 + size])


def _pixel_check(data: bytes, fmt: str) -> None:
    frames.pixel_stats(frames.decode(data, fmt))


def run(report: Report) -> None:
    for name, (fmt, data) in _samples().items():
        ranged = frames.RangedFile(lambda start, end, d=data: d[start : end + 1], len(data))
        frames.read_header(cast(IO[bytes], ranged), fmt)
        share = ranged.fetched / len(data)
        report.add(
            f"{name}: header bytes read (of {len(data) / 1e6:.1f} MB)",
            ranged.fetched,
            "bytes",
            baseline=len(data),
            target=f"<= {HEADER_SHARE_TARGET:.0%} of the frame",
            met=share <= HEADER_SHARE_TARGET,
        )
        seconds = _best(functools.partial(_pixel_check, data, fmt))
        floor = (
            _best(functools.partial(_inflate_only, data))
            if name in {"exr half zip", "exr half zips"}
            else None
        )
        targeted = name == "exr half zip"
        report.add(
            f"{name}: pixel check",
            1.0 / seconds,
            "frames/s",
            baseline=1.0 / floor if floor else None,
            target=f">= {FLOOR_SHARE_TARGET:g}x the zlib floor" if targeted else "",
            met=(floor / seconds >= FLOOR_SHARE_TARGET) if targeted and floor else None,
        )
