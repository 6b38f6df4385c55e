"""Wire formats of the segmentation transform, shared by mock mode, the local stand-in and a container.

Input (content type ``application/x-kitti-bin``): the KITTI Velodyne layout, little-endian float32
x, y, z, intensity per point, no header; intensity is 0 for clouds that have none.

Output (content type ``application/x-pointcloud-labels``), 8-byte header then one byte per point::

    offset 0  4 bytes  magic b"PCLB"
    offset 4  uint32   little-endian point count N
    offset 8  N bytes  uint8 label per point, in input order (values in ``LABELS``)

The count in the header lets the callback check, without trusting the body length alone, that the
job labelled exactly as many points as it was given.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.formats.pointcloud.model import LABELS, PointCloud, PointCloudError

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

INPUT_CONTENT_TYPE = "application/x-kitti-bin"
LABELS_CONTENT_TYPE = "application/x-pointcloud-labels"
LABELS_MAGIC = b"PCLB"
_HEADER = struct.Struct("<4sI")
_MAX_LABEL = max(LABELS)


class LabelFormatError(PointCloudError):
    """A transform output does not parse as a labels document."""


def encode_transform_input(cloud: PointCloud) -> bytes:
    """The cloud as KITTI float32 x, y, z, intensity rows (intensity 0 when absent)."""
    rows = np.zeros((cloud.count, 4), dtype="<f4")
    rows[:, :3] = cloud.xyz
    if cloud.intensity is not None:
        rows[:, 3] = cloud.intensity
    return rows.tobytes()


def decode_transform_input(body: bytes | memoryview) -> NDArray[Any]:
    """The (N, 4) float32 rows of a transform input; raises PointCloudError if the size is wrong."""
    if len(body) % 16:
        raise PointCloudError(f"transform input of {len(body)} bytes is not a whole number of 16-byte points")
    return np.frombuffer(body, dtype="<f4").reshape(-1, 4)


def encode_labels(labels: NDArray[Any]) -> bytes:
    """Header (magic, count) plus one uint8 per label."""
    values = np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {values.shape}")
    if values.size and (values.min() < 0 or values.max() > _MAX_LABEL):
        raise ValueError(f"labels must lie in 0..{_MAX_LABEL}")
    return _HEADER.pack(LABELS_MAGIC, values.size) + values.astype(np.uint8).tobytes()


def decode_labels(body: bytes | memoryview) -> NDArray[Any]:
    """The uint8 labels of a labels document; raises LabelFormatError with the reason if it does not parse."""
    if len(body) < _HEADER.size:
        raise LabelFormatError(f"labels document of {len(body)} bytes is shorter than its 8-byte header")
    magic, count = _HEADER.unpack_from(body, 0)
    if magic != LABELS_MAGIC:
        raise LabelFormatError(f"labels document starts with {magic!r}, expected {LABELS_MAGIC!r}")
    if len(body) - _HEADER.size != count:
        raise LabelFormatError(
            f"labels document announces {count} labels but carries {len(body) - _HEADER.size} bytes"
        )
    labels = np.frombuffer(body, dtype=np.uint8, offset=_HEADER.size).copy()
    if labels.size and labels.max() > _MAX_LABEL:
        raise LabelFormatError(f"labels document holds label {int(labels.max())}, outside 0..{_MAX_LABEL}")
    return labels
