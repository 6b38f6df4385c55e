"""UC4's sample sequences: real EXR and DPX frames, with the defects the checks must find.

Three sequences, written with the byte-level writers of ``shared.formats.samples``:

* ``sh010_comp.####.exr``: scan-line HALF, ZIP, frames 1001-1012; 1005 missing, 1003 all black,
  1007 holds NaN and Inf, 1009 is 1000 times brighter than the rest, 1010 is truncated.
* ``sh020_beauty.####.exr``: tiled FLOAT, ZIPS, frames 1-8; frame 6 is uncompressed at another
  resolution (a header mismatch); frame 4 is also written as ``sh020_beauty.004.exr`` (a
  duplicate number with the wrong padding).
* ``sh030_plate.####.dpx``: 10-bit DPX plates 1-6, odd frames big-endian and even frames
  little-endian; frame 4 is missing.

Used by the demo, the e2e test and the bench; never packaged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from shared.formats.samples import dpx as dpx_writer
from shared.formats.samples import exr as exr_writer

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 64, 36
SH010 = "shots/sh010/comp/v001/sh010_comp."
SH020 = "shots/sh020/lighting/v002/sh020_beauty."
SH030 = "plates/sh030/sh030_plate."


@dataclass(frozen=True)
class Sample:
    key: str
    body: bytes
    defect: str = ""


def _exr_frame(
    number: int,
    *,
    pixel_type: str,
    compression: str,
    tile: int | None = None,
    scale: float = 1.0,
    width: int = WIDTH,
    height: int = HEIGHT,
    black: bool = False,
    nan: bool = False,
) -> bytes:
    planes = exr_writer.gradient(width, height, seed=number, scale=scale)
    if black:
        planes = {k: np.zeros_like(v) for k, v in planes.items()}
    if nan:
        planes["R"][3, 5] = np.nan
        planes["G"][7, 9] = np.inf
    return exr_writer.write(planes, pixel_type=pixel_type, compression=compression, tile_size=tile)


def good_frame(pattern: str, number: int, padding: int) -> tuple[str, bytes]:
    """A clean frame for ``pattern`` (what the stand-in render farm writes back)."""
    head, _, ext = pattern.partition("#" * max(padding, 1))
    key = f"{head}{number:0{max(padding, 1)}d}{ext}"
    if ext == ".dpx":
        rgb = np.stack([exr_writer.gradient(WIDTH, HEIGHT, seed=number)[c] for c in "RGB"], axis=-1)
        return key, dpx_writer.write(rgb, byte_order="big")
    if "sh020" in head:
        return key, _exr_frame(number, pixel_type="FLOAT", compression="ZIPS", tile=16)
    return key, _exr_frame(number, pixel_type="HALF", compression="ZIP")


def plan() -> list[Sample]:
    out: list[Sample] = []
    for n in range(1001, 1013):
        if n == 1005:
            continue
        defect = {1003: "black", 1007: "nan", 1009: "out_of_range", 1010: "truncated"}.get(n, "")
        body = _exr_frame(
            n,
            pixel_type="HALF",
            compression="ZIP",
            black=defect == "black",
            nan=defect == "nan",
            scale=1000.0 if defect == "out_of_range" else 1.0,
        )
        if defect == "truncated":
            body = body[: len(body) * 2 // 3]
        out.append(Sample(f"{SH010}{n:04d}.exr", body, defect))
    for n in range(1, 9):
        if n == 6:
            body = _exr_frame(n, pixel_type="FLOAT", compression="NONE", tile=16, width=48, height=27)
            out.append(Sample(f"{SH020}{n:04d}.exr", body, "header_mismatch"))
            continue
        out.append(
            Sample(f"{SH020}{n:04d}.exr", _exr_frame(n, pixel_type="FLOAT", compression="ZIPS", tile=16))
        )
    out.append(
        Sample(f"{SH020}004.exr", _exr_frame(4, pixel_type="FLOAT", compression="ZIPS", tile=16), "duplicate")
    )
    for n in range(1, 7):
        if n == 4:
            continue
        rgb = np.stack([exr_writer.gradient(WIDTH, HEIGHT, seed=n)[c] for c in "RGB"], axis=-1)
        order = "big" if n % 2 else "little"
        out.append(Sample(f"{SH030}{n:04d}.dpx", dpx_writer.write(rgb, byte_order=order), f"dpx_{order}"))
    return out
