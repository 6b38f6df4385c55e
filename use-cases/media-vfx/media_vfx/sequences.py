"""Frame sequences: grouping keys by pattern, frame-number padding, gaps, duplicates and outliers.

A frame key is ``<dir>/<name><sep><digits>.<ext>`` (``shot/sh010/comp/v003/sh010_comp.0101.exr``);
its sequence is the key with the digits replaced by ``#`` repeated to the padding, as render tools
write it (``sh010_comp.####.exr``). Frames whose digits are written with another width than the
sequence's padding still belong to it (``sh010_comp.101.exr``) and are reported as padding
mismatches; two frames with the same number are duplicates.

Everything here is a plain function over lists of :class:`Frame` and per-frame numbers; the
statistics are robust (median and median absolute deviation), so one bad frame cannot hide
another by dragging the mean.
"""

from __future__ import annotations

import hashlib
import logging
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

FRAME_SUFFIXES = (".exr", ".dpx")
# The frame number: the last run of digits before the extension, after a separator or the start.
_FRAME = re.compile(r"^(?P<head>.*?)(?P<digits>\d+)(?P<ext>\.[A-Za-z0-9]+)$")
MAD_SCALE = 1.4826  # the MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class Frame:
    key: str
    number: int
    digits: str
    head: str  # everything before the digits, directory included
    ext: str  # with the dot, lower case
    size: int = 0
    etag: str = ""

    @property
    def base(self) -> tuple[str, str]:
        return self.head, self.ext


def parse_frame(key: str, size: int = 0, etag: str = "") -> Frame | None:
    """The frame a key names, or None when its name carries no frame number."""
    match = _FRAME.match(key)
    if not match:
        return None
    return Frame(key, int(match["digits"]), match["digits"], match["head"], match["ext"].lower(), size, etag)


def detect_padding(frames: Sequence[Frame]) -> int:
    """The padding of a sequence: the width most frames use when a number is zero-padded.

    ``0001..0120`` gives 4; unpadded numbers (``1..120``) give 0 (no padding, ``#``).
    """
    padded = Counter(len(f.digits) for f in frames if f.digits.startswith("0") and len(f.digits) > 1)
    if padded:
        return padded.most_common(1)[0][0]
    widths = Counter(len(f.digits) for f in frames)
    width = widths.most_common(1)[0][0] if widths else 0
    # All numbers the same width and none zero-padded: padding is that width only if a smaller
    # number would have been padded, which we cannot tell; call it unpadded unless widths agree.
    return width if len(widths) == 1 and width > 1 else 0


def pattern(head: str, ext: str, padding: int) -> str:
    return f"{head}{'#' * max(padding, 1)}{ext}"


def group(frames: Iterable[Frame]) -> dict[str, list[Frame]]:
    """Sequence pattern -> its frames sorted by number (then key)."""
    by_base: dict[tuple[str, str], list[Frame]] = {}
    for frame in frames:
        by_base.setdefault(frame.base, []).append(frame)
    out: dict[str, list[Frame]] = {}
    for (head, ext), members in by_base.items():
        members.sort(key=lambda f: (f.number, f.key))
        out[pattern(head, ext, detect_padding(members))] = members
    return out


def sequence_id(pattern_: str) -> str:
    """A key-safe id of a sequence: its pattern with ``#`` spelled out."""
    return pattern_.replace("#", "%")


def version_of(frames: Sequence[Frame]) -> str:
    """The sequence's version: a digest of its frames' keys and ETags (a changed frame changes it)."""
    digest = hashlib.sha256()
    for frame in sorted(frames, key=lambda f: f.key):
        digest.update(f"{frame.key}\n{frame.etag}\n".encode())
    return digest.hexdigest()[:16]


def missing_numbers(numbers: Iterable[int]) -> list[int]:
    present = sorted(set(numbers))
    if not present:
        return []
    have = set(present)
    return [n for n in range(present[0], present[-1] + 1) if n not in have]


def compress_ranges(numbers: Iterable[int]) -> str:
    """``1,2,3,7,9,10`` -> ``1-3,7,9-10`` (an Open Job Description range expression)."""
    items = sorted(set(numbers))
    parts: list[str] = []
    start = prev = None
    for n in items:
        if start is None:
            start = prev = n
        elif prev is not None and n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = n
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(parts)


def duplicates(frames: Sequence[Frame]) -> dict[int, list[str]]:
    keys: dict[int, list[str]] = {}
    for frame in frames:
        keys.setdefault(frame.number, []).append(frame.key)
    return {n: sorted(k) for n, k in keys.items() if len(k) > 1}


def padding_mismatches(frames: Sequence[Frame], padding: int) -> list[str]:
    if padding <= 1:
        return []
    return [f.key for f in frames if len(f.digits) != padding and len(str(f.number)) <= padding]


def robust_outliers(
    values: Mapping[str, float], *, z: float, min_relative: float = 0.0, floor: float = 1e-9
) -> dict[str, dict[str, float]]:
    """Items whose value is more than ``z`` robust deviations from the median.

    The deviation is the MAD scaled to a standard deviation; when most values are equal (MAD 0),
    a thousandth of the median (or ``floor``) stands in, so a constant sequence still flags a
    frame far away from it. An item must also differ from the median by ``min_relative`` of it,
    so a tight sequence does not flag a frame one percent off.
    """
    if len(values) < 3:
        return {}
    median = statistics.median(values.values())
    mad = statistics.median(abs(v - median) for v in values.values()) * MAD_SCALE
    scale = max(mad, abs(median) * 1e-3, floor)
    out: dict[str, dict[str, float]] = {}
    for name, value in values.items():
        distance = abs(value - median)
        if distance / scale > z and distance >= abs(median) * min_relative:
            out[name] = {"value": value, "median": median, "robust_z": round(distance / scale, 2)}
    return out


def inconsistent(
    headers: Mapping[str, Mapping[str, Any]], fields: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Frames whose header differs from the sequence's most common value, field by field."""
    out: dict[str, dict[str, Any]] = {}
    for name in fields:
        values = {key: _hashable(h.get(name)) for key, h in headers.items()}
        if len(set(values.values())) <= 1:
            continue
        common = Counter(values.values()).most_common(1)[0][0]
        for key, value in values.items():
            if value != common:
                out.setdefault(key, {})[name] = {"frame": _plain(value), "sequence": _plain(common)}
    return out


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
            return {k: _plain(v) for k, v in value}
        return [_plain(v) for v in value]
    return value
