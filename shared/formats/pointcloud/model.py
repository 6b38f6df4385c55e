"""The in-memory point cloud, its typed error, the file-suffix to format mapping and the labels.

Every reader returns a :class:`PointCloud`; every failure to read raises :class:`PointCloudError`,
which the handlers turn into a per-file FAILED result with the reason. This module needs no numpy
at import, so a function that only needs the names (discovery, the annotation step) stays light.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from shared.errors import PatternError

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

PCD = "pcd"
LAS = "las"
LAZ = "laz"
PLY = "ply"
KITTI_BIN = "bin"

# The segmentation classes: label value -> name.
GROUND, LOW, OBJECT, HIGH, NOISE = 0, 1, 2, 3, 4
LABELS: dict[int, str] = {GROUND: "ground", LOW: "low", OBJECT: "object", HIGH: "high", NOISE: "noise"}

# The QC status of a cloud that met every threshold.
PASSED = "PASSED"

# Lower-case file suffix -> format name passed to ``read``.
FORMATS: dict[str, str] = {
    ".pcd": PCD,
    ".las": LAS,
    ".laz": LAZ,
    ".ply": PLY,
    ".bin": KITTI_BIN,
}


class PointCloudError(PatternError, ValueError):
    """A point cloud (or a label file) is corrupt, truncated or in an unsupported variant."""


class UnknownFormatError(PointCloudError):
    """The key's suffix is not a supported point cloud format."""


def detect_format(key: str) -> str:
    """The format name for an object key, from its suffix (case-insensitive)."""
    suffix = PurePosixPath(key).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise UnknownFormatError(
            f"unsupported point cloud suffix {suffix or '(none)'!r}; expected one of {sorted(FORMATS)}",
            key=key,
        ) from None


def format_name(fmt: str) -> str:
    """``fmt`` as a supported format name (``".PCD"`` -> ``"pcd"``), else :class:`UnknownFormatError`."""
    name = fmt.lower().lstrip(".")
    if name not in FORMATS.values():
        raise UnknownFormatError(
            f"unsupported point cloud format {fmt!r}; expected one of {sorted(FORMATS.values())}"
        )
    return name


@dataclass(frozen=True)
class PointCloud:
    """Point coordinates (N, 3) plus optional per-point intensity, as read from one file.

    ``xyz`` keeps the file's float precision (float32 for PCD/PLY/KITTI float fields, float64 for
    LAS/LAZ after scaling) so that a reader never widens more than it must. ``intensity`` keeps the
    file's numeric type (uint16 for LAS, float32 for KITTI) or is ``None`` when the file has none.
    """

    xyz: NDArray[Any]
    intensity: NDArray[Any] | None
    format: str

    def __post_init__(self) -> None:
        if self.xyz.ndim != 2 or self.xyz.shape[1] != 3:
            raise PointCloudError(f"xyz must have shape (N, 3), got {self.xyz.shape}")
        if self.intensity is not None and self.intensity.shape != (self.xyz.shape[0],):
            raise PointCloudError(
                f"intensity must have shape ({self.xyz.shape[0]},), got {self.intensity.shape}"
            )

    @property
    def count(self) -> int:
        """Number of points (including any with NaN/Inf coordinates)."""
        return int(self.xyz.shape[0])
