"""One frame: its header through ranged reads, its pixels where they can be decoded, a thumbnail.

The header is read through :class:`RangedFile`, which fetches only the byte ranges the reader asks
for (4 KiB to start, doubling), so a 50 MB frame costs a few KiB for its header. The pixel check
then reads the whole object, decodes it (EXR uncompressed/ZIPS/ZIP; DPX 8/10/16-bit RGB) and
measures the finite minimum, maximum and mean of the colour channels, the NaN and Inf counts and
whether the frame is all black. A frame whose compression or layout is not decoded gets
``pixels.status = "NOT_CHECKED"`` with the reason, never a pass. A frame whose file cannot be read
(bad magic, truncated header or pixel data) is a FAILED result naming what and where.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Mapping
from typing import IO, Any, cast

import numpy as np

from shared.config import CommonConfig, env, parse_bool
from shared.errors import FAILED, SUCCEEDED, PatternError
from shared.formats import dpx, exr
from shared.observability import stats, xray_subsegment
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

CHECKED = "CHECKED"
NOT_CHECKED = "NOT_CHECKED"
COLOUR = ("R", "G", "B", "Y")
BLACK_EPSILON = 1e-6
THUMB_WIDTH = 160
FIRST_READ = 4096


@dataclasses.dataclass(frozen=True, kw_only=True)
class FrameConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    pixel_checks: bool = env("PIXEL_CHECKS", True, parse=parse_bool)
    max_frame_mib: int = env("MAX_FRAME_MIB", 512)


class RangedFile(io.RawIOBase):
    """A read-only, seekable file over ``read_range(start, end_inclusive)``; counts the bytes fetched."""

    def __init__(self, read_range: Any, size: int) -> None:
        self._read_range = read_range
        self.size = size
        self.pos = 0
        self.fetched = 0
        self.requests = 0
        self._buffer = b""
        self._buffer_at = 0
        self._next = FIRST_READ

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self.size - self.pos
        end = min(self.pos + size, self.size)
        if end <= self.pos:
            return b""
        if not (self._buffer_at <= self.pos and end <= self._buffer_at + len(self._buffer)):
            want = max(end - self.pos, self._next)
            self._next = min(self._next * 2, 1 << 20)
            last = min(self.pos + want, self.size) - 1
            self._buffer = self._read_range(self.pos, last)
            self._buffer_at = self.pos
            self.fetched += len(self._buffer)
            self.requests += 1
        start = self.pos - self._buffer_at
        data = self._buffer[start : start + (end - self.pos)]
        self.pos += len(data)
        return data


def format_of(key: str) -> str:
    lower = key.lower()
    if lower.endswith(".exr"):
        return "exr"
    if lower.endswith(".dpx"):
        return "dpx"
    return ""


def read_header(f: IO[bytes], fmt: str) -> dict[str, Any]:
    if fmt == "exr":
        return exr.read_header(f).to_dict()
    return dpx.read_header(f).to_dict()


def decode(data: bytes, fmt: str) -> dict[str, np.ndarray]:
    """Per-channel float32 planes; raises the format's Unsupported error for layouts not decoded."""
    f = io.BytesIO(data)
    if fmt == "exr":
        return exr.read_pixels(f, len(data))[1]
    return dpx.read_pixels(f, len(data))[1]


def pixel_stats(planes: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Finite min/max/mean of the colour channels, NaN and Inf counts (all channels), all-black."""
    colour = [planes[name] for name in planes if name.upper() in COLOUR] or list(planes.values())
    stack = np.stack(colour)
    nan = int(sum(int(np.isnan(p).sum()) for p in planes.values()))
    inf = int(sum(int(np.isinf(p).sum()) for p in planes.values()))
    finite = stack[np.isfinite(stack)]
    out: dict[str, Any] = {
        "status": CHECKED,
        "nan_count": nan,
        "inf_count": inf,
        "channels_checked": sorted(name for name in planes if name.upper() in COLOUR) or sorted(planes),
    }
    if finite.size:
        out.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()))
        out["black"] = bool(np.abs(finite).max() <= BLACK_EPSILON)
    else:
        out.update(min=None, max=None, mean=None, black=False)
    return out


def to_rgb8(planes: Mapping[str, np.ndarray]) -> np.ndarray:
    """An sRGB-ish 8-bit (h, w, 3) image: clip to [0, 1], gamma 1/2.2; NaN/Inf show as magenta."""
    names = [n for n in ("R", "G", "B") if n in planes] or [next(iter(planes))]
    channels = [planes[names[min(i, len(names) - 1)]] for i in range(3)]
    rgb = np.stack(channels, axis=-1).astype(np.float32)
    bad = ~np.isfinite(rgb).all(axis=-1)
    rgb = np.clip(np.nan_to_num(rgb, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0) ** (1 / 2.2)
    out = (rgb * 255.0 + 0.5).astype(np.uint8)
    out[bad] = (255, 0, 255)
    return out


def jpeg(rgb: np.ndarray, width: int, quality: int = 85) -> bytes:
    from PIL import Image

    image = Image.fromarray(rgb, "RGB")
    if image.width > width:
        image = image.resize(
            (width, max(1, round(image.height * width / image.width))), Image.Resampling.BILINEAR
        )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def thumbnail_key(key: str, etag: str) -> str:
    from shared.polling.keys import etag_token

    return f"thumbnails/by-key/{key}/{etag_token(etag)}.jpg"


def check_frame(
    source: S3AccessPoint, output: S3AccessPoint, file: Mapping[str, Any], *, run_id: str, cfg: FrameConfig
) -> dict[str, Any]:
    """Read, check and record one frame version; returns the result document (also written)."""
    key, etag, size = str(file["key"]), str(file.get("etag", "")), int(file["size"])
    fmt = format_of(key)
    sections: dict[str, Any] = {"run_id": run_id, "size": size, "format": fmt}

    def failed(reason: str, error: str) -> dict[str, Any]:
        doc = result_document(
            key=key,
            etag=etag,
            status=FAILED,
            source=source.target,
            reason=reason,
            error=error,
            sections=sections,
        )
        write_result(output, doc)
        stats().failed()
        return doc

    if not fmt:
        return failed(f"{key!r} is neither EXR nor DPX", "UnsupportedFormatError")
    ranged = RangedFile(lambda start, end: source.get_range(key, start, end), size)
    try:
        with xray_subsegment("read_header", {"format": fmt}):
            header = read_header(cast(IO[bytes], ranged), fmt)
    except PatternError as error:
        return failed(f"unreadable {fmt.upper()} header: {error.reason}", type(error).__name__)
    sections["header"] = header
    sections["header_read"] = {"bytes": ranged.fetched, "requests": ranged.requests}
    if not cfg.pixel_checks:
        sections["pixels"] = {"status": NOT_CHECKED, "reason": "pixel checks are off (PIXEL_CHECKS=false)"}
    elif size > cfg.max_frame_mib * 1024 * 1024:
        sections["pixels"] = {
            "status": NOT_CHECKED,
            "reason": f"frame is above MAX_FRAME_MIB={cfg.max_frame_mib}",
        }
    else:
        data = source.get_bytes(key, max_bytes=cfg.max_frame_mib * 1024 * 1024)
        try:
            with xray_subsegment(
                "decode_pixels", {"format": fmt, "compression": header.get("compression", "")}
            ):
                planes = decode(data, fmt)
        except (exr.ExrUnsupportedError, dpx.DpxUnsupportedError) as error:
            sections["pixels"] = {"status": NOT_CHECKED, "reason": error.reason}
        except PatternError as error:
            return failed(f"unreadable {fmt.upper()} pixel data: {error.reason}", type(error).__name__)
        else:
            sections["pixels"] = pixel_stats(planes)
            thumb = thumbnail_key(key, etag)
            output.put(thumb, jpeg(to_rgb8(planes), THUMB_WIDTH), content_type="image/jpeg")
            sections["thumbnail_key"] = thumb
    doc = result_document(key=key, etag=etag, status=SUCCEEDED, source=source.target, sections=sections)
    write_result(output, doc)
    stats().processed(files=1, bytes_=size)
    return doc


def summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = {"key": doc["source"]["key"], "status": doc["status"], "output_key": doc["output_key"]}
    for name in ("reason", "error"):
        if name in doc:
            out[name] = doc[name]
    return out
