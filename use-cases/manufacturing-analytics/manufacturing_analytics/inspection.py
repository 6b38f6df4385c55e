"""Inspection images: Rekognition DetectLabels on the image bytes, and a defect decision from named labels.

**Bytes, never S3Object.** Rekognition reads ``S3Object`` images with its own service principal,
which an S3 access point attached to an FSx for ONTAP volume does not let in; the function reads
the image through the access point and sends ``Image.Bytes``. Bytes are limited to 5 MB, so a
larger image is decoded with Pillow and re-encoded as JPEG, scaled down step by step until it fits
(:func:`fit_for_rekognition`); the result records that it was resized and from what.

**The decision.** An image is a defect only when a label named in the rules (``DefectLabels``,
``Crack:80,Rust:75,...``: a label name and the confidence it must reach) is returned at or above
its threshold; a label's ``Aliases`` count as its name. Every other label (``Metal``, ``Machine``,
whatever the model sees) is recorded and ignored. The request asks for labels down to
``LabelMinConfidence``, so the result also shows near misses (a named label below its threshold),
which is how the thresholds get tuned. The earlier implementation flagged any image with any label
above one global confidence, which flagged nearly every image.

**Line and shift.** The line is the key's ``line-...`` folder. The capture time is the first
``YYYYMMDDTHHMMSS`` (or ``YYYYMMDD-HHMMSS``) in the file name, read in the plant's time zone, else
the object's last-modified time; the shift is the one whose start hour (``Shifts``, ``A@06,B@14,C@22``)
last passed in the plant's local time.
"""

from __future__ import annotations

import io
import logging
import posixpath
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from shared.errors import ConfigError, PatternError

logger = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # DetectLabels Image.Bytes limit
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_RULES = "Crack:80,Rust:75,Scratch:85,Dent:85,Corrosion:75"
DEFAULT_SHIFTS = "A@06,B@14,C@22"
_STAMP = re.compile(r"(\d{8})[T_-]?(\d{6})(Z)?")


class ImageError(PatternError, ValueError):
    """The file is not an image Pillow can decode, or cannot be brought under the size limit."""


@dataclass(frozen=True)
class DefectRules:
    thresholds: dict[str, float]

    @classmethod
    def parse(cls, raw: str) -> DefectRules:
        thresholds: dict[str, float] = {}
        for entry in (part.strip() for part in raw.split(",")):
            if not entry:
                continue
            name, _, value = entry.rpartition(":")
            try:
                threshold = float(value)
            except ValueError as error:
                raise ConfigError(f"defect rule {entry!r} is not Label:confidence") from error
            if not name.strip() or not 0 <= threshold <= 100:
                raise ConfigError(f"defect rule {entry!r} needs a label and a confidence in 0..100")
            thresholds[name.strip().lower()] = threshold
        if not thresholds:
            raise ConfigError("DefectLabels names no label: every image would pass")
        return cls(thresholds)

    def decide(self, labels: list[dict[str, Any]]) -> dict[str, Any]:
        """``defect`` with the strongest matching label, plus the near misses below their threshold."""
        matches: list[dict[str, Any]] = []
        near: list[dict[str, Any]] = []
        for label in labels:
            names = [str(label.get("Name", ""))] + [str(a.get("Name", "")) for a in label.get("Aliases", [])]
            confidence = float(label.get("Confidence", 0.0))
            for name in names:
                threshold = self.thresholds.get(name.lower())
                if threshold is None:
                    continue
                found = {"label": name, "confidence": round(confidence, 2), "threshold": threshold}
                (matches if confidence >= threshold else near).append(found)
                break
        matches.sort(key=lambda m: -m["confidence"])
        top = matches[0] if matches else None
        return {
            "defect": top is not None,
            "label": top["label"] if top else None,
            "confidence": top["confidence"] if top else None,
            "matches": matches,
            "near_misses": near,
        }


def parse_shifts(raw: str) -> tuple[tuple[int, str], ...]:
    """``A@06,B@14,C@22`` into [(6, "A"), (14, "B"), (22, "C")] sorted by hour."""
    shifts: list[tuple[int, str]] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        name, _, hour = entry.partition("@")
        try:
            start = int(hour)
        except ValueError as error:
            raise ConfigError(f"shift {entry!r} is not Name@HH") from error
        if not name.strip() or not 0 <= start <= 23:
            raise ConfigError(f"shift {entry!r} needs a name and an hour 0..23")
        shifts.append((start, name.strip()))
    if not shifts:
        raise ConfigError("Shifts names no shift")
    return tuple(sorted(shifts))


def shift_of(moment: datetime, zone: tzinfo, shifts: tuple[tuple[int, str], ...]) -> str:
    hour = moment.astimezone(zone).hour
    current = shifts[-1][1]  # before the first start of the day, the last shift of the previous day
    for start, name in shifts:
        if hour >= start:
            current = name
    return current


def capture_time(key: str, zone: tzinfo, last_modified: str) -> tuple[datetime, str]:
    """(UTC capture time, where it came from: ``file name`` or ``last modified``)."""
    match = _STAMP.search(posixpath.basename(key))
    if match:
        try:
            moment = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=UTC if match.group(3) else zone).astimezone(UTC), "file name"
    if last_modified:
        moment = datetime.fromisoformat(last_modified.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC), "last modified"
    return datetime.now(UTC), "processing time"


def fit_for_rekognition(data: bytes, max_bytes: int = MAX_IMAGE_BYTES) -> tuple[bytes, dict[str, Any]]:
    """The bytes to send and what was done: unchanged at or under ``max_bytes``, else a smaller JPEG.

    Every image is decoded once to check that it is one (a truncated or mislabelled file raises
    :class:`ImageError` here rather than a Rekognition error later).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height, fmt = image.width, image.height, image.format or "?"
            info: dict[str, Any] = {"format": fmt, "width": width, "height": height, "bytes": len(data)}
            if fmt not in ("JPEG", "PNG"):
                raise ImageError(f"{fmt} image: DetectLabels takes JPEG or PNG", format=fmt)
            if len(data) <= max_bytes:
                return data, {**info, "resized": False}
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageError(f"not a decodable image: {error}") from error
    except Image.DecompressionBombError as error:
        raise ImageError(f"image too large to decode safely: {error}") from error
    scale = min(1.0, (max_bytes / len(data)) ** 0.5)
    for _ in range(8):
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        buffer = io.BytesIO()
        rgb.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=90)
        out = buffer.getvalue()
        if len(out) <= max_bytes:
            return out, {
                **info,
                "resized": True,
                "sent_width": size[0],
                "sent_height": size[1],
                "sent_bytes": len(out),
            }
        scale *= 0.8
    raise ImageError(f"could not bring a {len(data)}-byte image under {max_bytes} bytes")
