"""The in-memory point cloud, its typed error, and the file-suffix to format mapping.

Every reader returns a :class:`PointCloud`; every failure to read raises :class:`PointCloudError`,
which the handlers turn into a per-file FAILED result with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from shared.errors import PatternError

logger = logging.getLogger(__name__)

PCD = "pcd"
LAS = "las"
LAZ = "laz"
PLY = "ply"
KITTI_BIN = "bin"

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


@dataclass(frozen=True)
class PointCloud:
    """Point coordinates (N, 3) plus optional per-point intensity, as read from one file.

    ``xyz`` keeps the file's float precision (float32 for PCD/PLY/KITTI float fields, float64 for
    LAS/LAZ after scaling) so that a reader never widens more than it must. ``intensity`` keeps the
    file's numeric type (uint16 for LAS, float32 for KITTI) or is ``None`` when the file has none.
    """

    xyz: np.ndarray
    intensity: np.ndarray | None
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
