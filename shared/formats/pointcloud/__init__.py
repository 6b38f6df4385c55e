"""Point clouds: readers for PCD/LAS/LAZ/PLY/KITTI and the segmentation transform's wire formats.

Pure functions over bytes and numpy arrays, with no AWS calls, so handlers, the local cloud's
SageMaker stand-in and tests share one implementation. What one use case does with a cloud (UC9's
quality checks and reference segmentation) lives in that use case's package.

The names of :mod:`shared.formats.pointcloud.model` (formats, labels, errors) load with the package. The
numpy-backed parts load on first use of one of their names, so a function that only needs a format
list or a label name does not pay numpy's import time at its cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.formats.pointcloud.model import (
    FORMATS,
    GROUND,
    HIGH,
    KITTI_BIN,
    LABELS,
    LAS,
    LAZ,
    LOW,
    NOISE,
    OBJECT,
    PASSED,
    PCD,
    PLY,
    PointCloud,
    PointCloudError,
    UnknownFormatError,
    detect_format,
)
from shared.lazy import deferred_exports

if TYPE_CHECKING:
    from shared.formats.pointcloud.readers import read
    from shared.formats.pointcloud.transform import (
        INPUT_CONTENT_TYPE,
        LABELS_CONTENT_TYPE,
        LabelFormatError,
        decode_labels,
        decode_transform_input,
        encode_labels,
        encode_transform_input,
    )

# Submodule -> the names it contributes, imported when one of them is first used.
_DEFERRED: dict[str, tuple[str, ...]] = {
    "readers": ("read",),
    "transform": (
        "INPUT_CONTENT_TYPE",
        "LABELS_CONTENT_TYPE",
        "LabelFormatError",
        "decode_labels",
        "decode_transform_input",
        "encode_labels",
        "encode_transform_input",
    ),
}
_SOURCE = {name: module for module, names in _DEFERRED.items() for name in names}


__getattr__, __dir__ = deferred_exports(__name__, globals(), _SOURCE)


__all__ = [
    "FORMATS",
    "GROUND",
    "HIGH",
    "INPUT_CONTENT_TYPE",
    "KITTI_BIN",
    "LABELS",
    "LABELS_CONTENT_TYPE",
    "LAS",
    "LAZ",
    "LOW",
    "NOISE",
    "OBJECT",
    "PASSED",
    "PCD",
    "PLY",
    "LabelFormatError",
    "PointCloud",
    "PointCloudError",
    "UnknownFormatError",
    "decode_labels",
    "decode_transform_input",
    "detect_format",
    "encode_labels",
    "encode_transform_input",
    "read",
]
