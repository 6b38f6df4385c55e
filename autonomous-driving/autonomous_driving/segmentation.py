"""Reference segmentation: RANSAC ground plane, height above it, voxel-neighbourhood noise.

No model weights: this is the algorithm the mock mode runs in place of a SageMaker job and the
algorithm the local cloud's transform stand-in runs, so both produce the same labels for the same
input. Labels come back in the input's order, one per input point, by construction (the output is
allocated from the input length and only ever indexed by masks of that length).

Steps:

1. RANSAC on a seeded random subset of the finite points (``sample_size``): ``iterations`` random
   triplets are scored at once with numpy; planes steeper than ``max_slope_deg`` are rejected, so
   walls never win. The best plane is refined twice by least squares (SVD) on its inliers.
2. Signed height of each point above the plane (normal pointing up).
3. Height classes: ground (``|h| <= ground_tolerance``), low (up to ``low_max``), object (up to
   ``object_max``), high (above). Points more than ``ground_tolerance`` below the plane are noise
   (reflections/multipath return from below the road surface).
4. Noise: a point with fewer than ``min_neighbours`` other points in its own and the 26 adjacent
   voxels of size ``voxel_size``. Voxels are keyed by one packed int64, counted with one sort, and
   neighbours are found with ``searchsorted`` over the occupied voxels only: O(N log N).

NaN/Inf points are labelled noise and take no part in the fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.formats.pointcloud.model import GROUND, HIGH, LABELS, LOW, NOISE, OBJECT, PointCloudError
from shared.formats.pointcloud.transform import INPUT_CONTENT_TYPE, decode_transform_input, encode_labels

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

_BITS = 21
_MASK = (1 << _BITS) - 1


@dataclass(frozen=True)
class SegmentationParams:
    """Tuning of the reference segmentation (metres and degrees)."""

    distance_threshold: float = 0.15
    iterations: int = 200
    sample_size: int = 20_000
    max_slope_deg: float = 25.0
    ground_tolerance: float = 0.25
    low_max: float = 0.5
    object_max: float = 3.0
    voxel_size: float = 0.5
    min_neighbours: int = 2


DEFAULT_PARAMS = SegmentationParams()


@dataclass(frozen=True)
class Plane:
    """Plane ``normal · p + offset = 0`` with a unit normal pointing up (``normal[2] >= 0``)."""

    normal: NDArray[Any]
    offset: float
    inlier_ratio: float

    def height(self, xyz: NDArray[Any]) -> NDArray[Any]:
        """Signed distance of each point above the plane."""
        heights: NDArray[Any] = np.asarray(xyz, dtype=np.float64) @ self.normal + self.offset
        return heights


def _horizontal_plane(points: NDArray[Any]) -> Plane:
    """Fallback when no tilted-enough triplet exists: a level plane at the 2nd percentile of z."""
    level = float(np.percentile(points[:, 2], 2)) if points.shape[0] else 0.0
    return Plane(np.array([0.0, 0.0, 1.0]), -level, 0.0)


def _least_squares(points: NDArray[Any]) -> tuple[NDArray[Any], float] | None:
    if points.shape[0] < 3:
        return None
    centre = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
    normal = vt[-1]
    if normal[2] < 0:
        normal = -normal
    return normal, float(-normal @ centre)


def fit_ground_plane(
    xyz: NDArray[Any], *, seed: int = 0, params: SegmentationParams = DEFAULT_PARAMS
) -> Plane:
    """The dominant near-horizontal plane of the finite points ``xyz`` (M, 3), found by RANSAC."""
    points = np.asarray(xyz, dtype=np.float64)
    m = points.shape[0]
    if m < 3:
        return _horizontal_plane(points)
    rng = np.random.default_rng(seed)
    sample = (
        points[rng.choice(m, size=min(m, params.sample_size), replace=False)]
        if m > params.sample_size
        else points
    )
    s = sample.shape[0]
    triplets = rng.integers(0, s, size=(params.iterations, 3))
    p0, p1, p2 = sample[triplets[:, 0]], sample[triplets[:, 1]], sample[triplets[:, 2]]
    normals = np.cross(p1 - p0, p2 - p0)
    lengths = np.linalg.norm(normals, axis=1)
    ok = lengths > 1e-12
    normals[ok] /= lengths[ok, None]
    normals[normals[:, 2] < 0] *= -1
    ok &= normals[:, 2] >= np.cos(np.radians(params.max_slope_deg))
    if not ok.any():
        return _horizontal_plane(points)
    normals = normals[ok]
    offsets = -np.einsum("ij,ij->i", normals, p0[ok])
    # Score every candidate against the sample in blocks to bound memory (block x sample floats).
    scores = np.empty(normals.shape[0], dtype=np.int64)
    block = max(1, 4_000_000 // s)
    for start in range(0, normals.shape[0], block):
        stop = start + block
        distance = np.abs(sample @ normals[start:stop].T + offsets[start:stop])
        scores[start:stop] = (distance <= params.distance_threshold).sum(axis=0)
    best = int(np.argmax(scores))
    normal, offset = normals[best], float(offsets[best])
    for _ in range(2):
        inliers = sample[np.abs(sample @ normal + offset) <= params.distance_threshold]
        refined = _least_squares(inliers)
        if refined is None or refined[0][2] < np.cos(np.radians(params.max_slope_deg)):
            break
        normal, offset = refined
    ratio = float(np.mean(np.abs(sample @ normal + offset) <= params.distance_threshold))
    return Plane(normal, offset, ratio)


def _isolated(points: NDArray[Any], params: SegmentationParams) -> NDArray[Any]:
    """Mask of points with fewer than ``min_neighbours`` others in their 3x3x3 voxel block."""
    n = points.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    # Work on contiguous (3, N) rows: numpy reduces an (N, 3) array along axis 0 slowly.
    grid = np.floor(np.ascontiguousarray(points.T) / params.voxel_size)
    usable = np.isfinite(grid[0]) & np.isfinite(grid[1]) & np.isfinite(grid[2])
    if not usable.any():
        return np.ones(n, dtype=bool)
    # Points over 2**19 voxels from the (approximate, strided-sample) median cannot share a packed
    # key space with the rest; they are isolated by any measure.
    stride = max(1, n // 100_000)
    near = usable.copy()
    for row in grid:
        centre = np.median(row[usable][::stride])
        near &= np.abs(row - centre) < (1 << 19)
    far: NDArray[Any] = ~near
    if not near.any():
        return far
    cells = [row[near] for row in grid]
    cells = [(row - row.min() + 1).astype(np.int64) for row in cells]
    keys = (cells[0] << (2 * _BITS)) | (cells[1] << _BITS) | cells[2]
    occupied, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    total = np.zeros(occupied.shape[0], dtype=np.int64)
    last = occupied.shape[0] - 1
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            for dk in (-1, 0, 1):
                shifted = occupied + ((di << (2 * _BITS)) + (dj << _BITS) + dk)
                pos = np.minimum(np.searchsorted(occupied, shifted), last)
                hit = occupied[pos] == shifted
                total += np.where(hit, counts[pos], 0)
    isolated: NDArray[Any] = far.copy()
    isolated[near] = (total[inverse] - 1) < params.min_neighbours
    return isolated


def segment(xyz: NDArray[Any], *, seed: int = 0, params: SegmentationParams = DEFAULT_PARAMS) -> NDArray[Any]:
    """One uint8 label (see :data:`LABELS`) per input point, in input order."""
    points = np.asarray(xyz)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"xyz must have shape (N, 3), got {points.shape}")
    labels = np.full(points.shape[0], NOISE, dtype=np.uint8)
    finite: NDArray[Any] | slice
    if np.isfinite(points).all():
        finite, chosen = slice(None), points.astype(np.float64, copy=False)
    else:
        finite = np.isfinite(points).all(axis=1)
        chosen = points[finite].astype(np.float64, copy=False)
    if chosen.shape[0] == 0:
        return labels
    with np.errstate(over="ignore", invalid="ignore"):
        # Coordinates near the float limits may overflow in products; such points end up noise or high.
        plane = fit_ground_plane(chosen, seed=seed, params=params)
        height = plane.height(chosen)
        classes = np.full(chosen.shape[0], HIGH, dtype=np.uint8)
        classes[height <= params.object_max] = OBJECT
        classes[height <= params.low_max] = LOW
        classes[height <= params.ground_tolerance] = GROUND
        classes[height < -params.ground_tolerance] = NOISE
        classes[_isolated(chosen, params)] = NOISE
    labels[finite] = classes
    return labels


def label_counts(labels: NDArray[Any]) -> dict[str, int]:
    """How many points carry each label name (all five names present)."""
    counts = np.bincount(labels, minlength=len(LABELS))
    return {name: int(counts[value]) for value, name in LABELS.items()}


def reference_model(
    body: bytes | memoryview, content_type: str = INPUT_CONTENT_TYPE, *, seed: int = 0
) -> bytes:
    """Run the reference segmentation on one transform input and return the encoded labels."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != INPUT_CONTENT_TYPE:
        raise PointCloudError(
            f"unsupported transform content type {content_type!r}; expected {INPUT_CONTENT_TYPE}"
        )
    rows = decode_transform_input(body)
    return encode_labels(segment(rows[:, :3], seed=seed))
