"""Point clouds: readers for PCD/LAS/LAZ/PLY/KITTI, quality checks, reference segmentation, transform I/O.

Pure functions over bytes and numpy arrays, with no AWS calls, so handlers, the local cloud's
SageMaker stand-in and tests share one implementation.

The names of :mod:`shared.pointcloud.model` (formats, labels, errors) load with the package. The
numpy-backed parts load on first use of one of their names, so a function that only needs a format
list or a label name does not pay numpy's import time at its cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.lazy import deferred_exports
from shared.pointcloud.model import (
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

if TYPE_CHECKING:
    from shared.pointcloud.quality import QCThresholds, duplicate_count, qc
    from shared.pointcloud.readers import read
    from shared.pointcloud.segmentation import (
        DEFAULT_PARAMS,
        Plane,
        SegmentationParams,
        fit_ground_plane,
        label_counts,
        segment,
    )
    from shared.pointcloud.transform import (
        INPUT_CONTENT_TYPE,
        LABELS_CONTENT_TYPE,
        LabelFormatError,
        decode_labels,
        decode_transform_input,
        encode_labels,
        encode_transform_input,
        reference_model,
    )

# Submodule -> the names it contributes, imported when one of them is first used.
_DEFERRED: dict[str, tuple[str, ...]] = {
    "quality": ("QCThresholds", "duplicate_count", "qc"),
    "readers": ("read",),
    "segmentation": (
        "DEFAULT_PARAMS",
        "Plane",
        "SegmentationParams",
        "fit_ground_plane",
        "label_counts",
        "segment",
    ),
    "transform": (
        "INPUT_CONTENT_TYPE",
        "LABELS_CONTENT_TYPE",
        "LabelFormatError",
        "decode_labels",
        "decode_transform_input",
        "encode_labels",
        "encode_transform_input",
        "reference_model",
    ),
}
_SOURCE = {name: module for module, names in _DEFERRED.items() for name in names}


__getattr__, __dir__ = deferred_exports(__name__, globals(), _SOURCE)


__all__ = [
    "DEFAULT_PARAMS",
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
    "Plane",
    "PointCloud",
    "PointCloudError",
    "QCThresholds",
    "SegmentationParams",
    "UnknownFormatError",
    "decode_labels",
    "decode_transform_input",
    "detect_format",
    "duplicate_count",
    "encode_labels",
    "encode_transform_input",
    "fit_ground_plane",
    "label_counts",
    "qc",
    "read",
    "reference_model",
    "segment",
]
