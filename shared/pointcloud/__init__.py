"""Point clouds: readers for PCD/LAS/LAZ/PLY/KITTI, quality checks, reference segmentation, transform I/O.

Pure functions over bytes and numpy arrays, with no AWS calls, so handlers, the local cloud's
SageMaker stand-in and tests share one implementation.
"""

from __future__ import annotations

from shared.pointcloud.model import (
    FORMATS,
    KITTI_BIN,
    LAS,
    LAZ,
    PCD,
    PLY,
    PointCloud,
    PointCloudError,
    UnknownFormatError,
    detect_format,
)
from shared.pointcloud.qc import PASSED, QCThresholds, duplicate_count, qc
from shared.pointcloud.readers import read
from shared.pointcloud.segmentation import (
    DEFAULT_PARAMS,
    GROUND,
    HIGH,
    LABELS,
    LOW,
    NOISE,
    OBJECT,
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
