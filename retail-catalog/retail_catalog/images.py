"""Image facts and quality rules, read with Pillow from the real file headers.

Only the three formats a product catalog accepts are allowed: JPEG, PNG and WebP. The quality
check reads dimensions from the header, then decodes the pixels once (bounded by a pixel budget)
so that a truncated or corrupt file is caught here rather than on the storefront.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from retail_catalog.errors import ImageRejectedError
from shared.errors import ConfigError

if TYPE_CHECKING:
    from PIL.Image import Image as PilImage

logger = logging.getLogger(__name__)

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP")
# Rekognition accepts JPEG and PNG as raw bytes up to 5 MB; anything else is re-encoded.
REKOGNITION_FORMATS = ("JPEG", "PNG")
REKOGNITION_MAX_BYTES = 5 * 1024 * 1024
# Decoded pixels allowed per GiB of function memory. Decoding costs far more than the 3 or 4 bytes a
# pixel of the result: a 10000x10000 WebP (100 M pixels) peaks near 1.5 GiB, about 16 bytes a pixel
# (libwebp's RGBA buffer, Pillow's copy, the RGB conversion, the JPEG encoder's work). 20 M pixels a
# GiB, the low end of 20-25 M, keeps that peak near a third of the memory and leaves the rest to the
# interpreter, the file's own bytes (up to 20 MiB) and the clients. Pillow also refuses to open
# anything above twice its own limit (about 179 M pixels); those are rejected as such.
PIXELS_PER_GIB = 20_000_000
# Memory assumed outside Lambda (tests, scripts): the templates' default LambdaMemorySize.
DEFAULT_MEMORY_MIB = 1024
MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
# Rekognition finds labels as well on a 4096-pixel side as on a larger one; a JPEG is decoded no
# larger than it needs to be for that (DCT scaling, 1/2 to 1/8), the other formats are reduced to it.
REKOGNITION_SIDE = 4096
# The format each image extension promises (lower case); other extensions promise nothing.
EXTENSION_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".webp": "WEBP"}
# Pillow modes with more than 8 bits per sample that ``convert("RGB")`` clips instead of scaling:
# a 16-bit greyscale PNG opens as I;16 (or I). 65535 / 257 = 255 maps the full range onto 8 bits.
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


@dataclass(frozen=True)
class QualityRules:
    """The thresholds a catalog image must meet. Defaults suit typical marketplace listings."""

    min_width: int = 500
    min_height: int = 500
    max_width: int = 10_000
    max_height: int = 10_000
    min_bytes: int = 1_024
    max_bytes: int = 20 * 1024 * 1024
    min_aspect_ratio: float = 0.5
    max_aspect_ratio: float = 2.0
    formats: tuple[str, ...] = SUPPORTED_FORMATS

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "formats": list(self.formats)}


@dataclass(frozen=True)
class ImageHeader:
    """What the header says: format and pixel dimensions."""

    format: str
    width: int
    height: int
    mode: str

    @property
    def aspect_ratio(self) -> float:
        return round(self.width / self.height, 4) if self.height else 0.0


@dataclass
class QualityReport:
    """The outcome of :func:`check_quality`; ``passed`` is False when any issue was found."""

    passed: bool
    size_bytes: int
    format: str | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: float | None = None
    issues: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_header(data: bytes) -> ImageHeader:
    """Identify the image from its header, without decoding pixels.

    Raises :class:`ImageRejectedError` when Pillow cannot identify a JPEG, PNG or WebP header.
    """
    # Pillow is imported where it is used: it costs ~9 ms at import, which a cold start of a
    # function that never reads pixels (the producer, discovery, catalog metadata) should not pay.
    from PIL import Image, UnidentifiedImageError

    try:
        with _opened(data) as image:
            fmt = (image.format or "").upper()
            width, height = image.size
            mode = image.mode
    except Image.DecompressionBombError as error:
        raise ImageRejectedError(f"too many pixels to handle safely: {error}") from error
    except UnidentifiedImageError as error:
        raise ImageRejectedError("not a readable image: the header is not JPEG, PNG or WebP") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejectedError(f"not a readable image: {error}", error_type=type(error).__name__) from error
    if fmt not in SUPPORTED_FORMATS:
        raise ImageRejectedError(f"unsupported image format {fmt or 'unknown'}", format=fmt)
    return ImageHeader(format=fmt, width=int(width), height=int(height), mode=mode)


@contextlib.contextmanager
def _opened(data: bytes) -> Iterator[PilImage]:
    """Pillow's lazy view of ``data``, without its decompression-bomb warning.

    Callers bound the pixel count themselves (:func:`decode_pixel_budget`); Pillow still refuses
    anything above twice its own limit with ``DecompressionBombError``.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            yield image


def decode_pixel_budget(memory_mib: int | None = None) -> int:
    """How many pixels this function may decode: :data:`PIXELS_PER_GIB` per GiB of its memory.

    Lambda sets ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` (MiB) in every function's environment.
    """
    if memory_mib is None:
        raw = os.environ.get(MEMORY_ENV, "").strip()
        try:
            memory_mib = int(raw) if raw else DEFAULT_MEMORY_MIB
        except ValueError as error:
            reason = f"{MEMORY_ENV}={raw!r} is not a whole number of MiB"
            raise ConfigError(reason, name=MEMORY_ENV) from error
    return memory_mib * PIXELS_PER_GIB // 1024


class DecodeBudgetError(ImageRejectedError):
    """Decoding this image would need more memory than the function has; checked before decoding."""


def _draft_side(width: int, height: int, side: int) -> tuple[int, int]:
    """The size to ask JPEG's draft mode for so that the longest side stays at least ``side``."""
    scale = max(1, max(width, height) // side)
    return max(1, math.ceil(width / scale)), max(1, math.ceil(height / scale))


@contextlib.contextmanager
def _decoded(data: bytes, *, side: int | None, what: str) -> Iterator[PilImage]:
    """The image with its pixels loaded, never above :func:`decode_pixel_budget`.

    A JPEG is decoded in draft mode, scaled down by up to 8 in the DCT itself so that its longest
    side stays at least ``side`` (1/8 when ``side`` is None); every byte of the entropy-coded data is
    still read, so truncation and corruption are still caught. The budget is checked on the size the
    decoder will produce, from the header, before any pixel is decoded: an image over it raises
    :class:`DecodeBudgetError` instead of exhausting the function's memory. Pillow's errors for
    truncated or corrupt data (OSError, SyntaxError, ValueError) pass through.
    """
    with _opened(data) as image:
        width, height = image.size
        if image.format == "JPEG":
            target = _draft_side(width, height, side) if side else (max(1, width // 8), max(1, height // 8))
            image.draft(None, target)
        decoded = image.size[0] * image.size[1]
        budget = decode_pixel_budget()
        if decoded > budget:
            raise DecodeBudgetError(
                f"{width}x{height} needs {decoded} decoded pixels for {what}, above this function's "
                f"budget of {budget} ({PIXELS_PER_GIB} per GiB of memory)",
                width=width,
                height=height,
                budget_pixels=budget,
            )
        image.load()
        yield image


def check_quality(data: bytes, rules: QualityRules | None = None, *, key: str = "") -> QualityReport:
    """Check dimensions, file size, aspect ratio, format and integrity of one image.

    A file that is not an image at all still gets a report (with an ``unreadable`` issue), because
    "this listing has a broken image" is a catalog finding, not a processing error. With ``key``,
    content that is not the format its extension promises (JPEG bytes under ``.png``) is an issue too.
    """
    rules = rules or QualityRules()
    report = QualityReport(passed=True, size_bytes=len(data))

    def issue(code: str, message: str) -> None:
        report.issues.append({"code": code, "message": message})

    if len(data) < rules.min_bytes:
        issue("file_too_small", f"{len(data)} bytes is below the minimum of {rules.min_bytes}")
    if len(data) > rules.max_bytes:
        issue("file_too_large", f"{len(data)} bytes is above the maximum of {rules.max_bytes}")
    try:
        header = read_header(data)
    except ImageRejectedError as error:
        issue("unreadable", error.reason)
        report.passed = False
        return report
    report.format = header.format
    report.width, report.height = header.width, header.height
    report.aspect_ratio = header.aspect_ratio
    if header.format not in rules.formats:
        issue("format_not_allowed", f"{header.format} is not one of {list(rules.formats)}")
    suffix = PurePosixPath(key).suffix
    promised = EXTENSION_FORMATS.get(suffix.lower())
    if promised and promised != header.format:
        issue(
            "extension_mismatch",
            f"the key ends in {suffix} ({promised}) but the content is {header.format}",
        )
    if header.width < rules.min_width or header.height < rules.min_height:
        issue(
            "too_small",
            f"{header.width}x{header.height} is below the minimum {rules.min_width}x{rules.min_height}",
        )
    if header.width > rules.max_width or header.height > rules.max_height:
        issue(
            "too_large",
            f"{header.width}x{header.height} is above the maximum {rules.max_width}x{rules.max_height}",
        )
    if header.height and not rules.min_aspect_ratio <= header.aspect_ratio <= rules.max_aspect_ratio:
        issue(
            "aspect_ratio",
            f"aspect ratio {header.aspect_ratio} is outside "
            f"{rules.min_aspect_ratio}..{rules.max_aspect_ratio}",
        )
    try:
        with _decoded(data, side=None, what="the integrity check"):
            pass
    except DecodeBudgetError as error:
        issue("not_decoded", f"{error.reason}; integrity unchecked")
    except (OSError, SyntaxError, ValueError) as error:
        issue("corrupt", f"pixel data cannot be decoded: {error}")
    report.passed = not report.issues
    return report


def _to_rgb(image: PilImage) -> PilImage:
    """8-bit RGB pixels; 16-bit samples are scaled down (``convert`` alone would clip them at 255)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        image = image.convert("I").point(lambda value: value / 257).convert("L")
    return image.convert("RGB")


def prepare_for_rekognition(data: bytes) -> tuple[bytes, ImageHeader]:
    """Bytes Rekognition accepts: JPEG or PNG of at most 5 MB.

    WebP, and JPEG/PNG files over the limit, are decoded (a JPEG in draft mode, see
    :data:`REKOGNITION_SIDE`) and re-encoded as JPEG, shrinking the longest side until the result
    fits. Raises :class:`DecodeBudgetError` when decoding would exceed the function's memory, and
    :class:`ImageRejectedError` if decoding fails.
    """
    header = read_header(data)
    if header.format in REKOGNITION_FORMATS and len(data) <= REKOGNITION_MAX_BYTES:
        return data, header
    try:
        with _decoded(data, side=REKOGNITION_SIDE, what="tagging") as image:
            rgb = _to_rgb(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejectedError(f"image cannot be decoded for tagging: {error}") from error
    factor = max(rgb.size) // REKOGNITION_SIDE
    if factor > 1:
        # Integer box reduction: cheaper than resampling, and the encode loop starts near its goal.
        rgb = rgb.reduce(factor)
    longest = max(rgb.size)
    while True:
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=90)
        encoded = buffer.getvalue()
        if len(encoded) <= REKOGNITION_MAX_BYTES or longest <= 256:
            break
        longest = int(longest * 0.7)
        rgb.thumbnail((longest, longest))
    if len(encoded) > REKOGNITION_MAX_BYTES:
        raise ImageRejectedError("image does not fit Rekognition's 5 MB limit even when shrunk")
    return encoded, header
