"""Writers for every point cloud format the readers accept, and a synthetic driving scene.

The writers exist so tests can round-trip every reader and the demo can seed realistic files; they
favour clarity over speed except for the binary layouts, which are numpy views written in one go.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.formats.pointcloud import (
    GROUND,
    HIGH,
    LOW,
    NOISE,
    OBJECT,
    PointCloud,
    encode_transform_input,
    lzf,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

_PCD_TYPE = {"f": "F", "i": "I", "u": "U"}
_PLY_TYPE = {
    "f4": "float",
    "f8": "double",
    "i1": "char",
    "u1": "uchar",
    "i2": "short",
    "u2": "ushort",
    "i4": "int",
    "u4": "uint",
}


def _columns(cloud: PointCloud) -> list[tuple[str, NDArray[Any]]]:
    columns = [(axis, cloud.xyz[:, index]) for index, axis in enumerate("xyz")]
    if cloud.intensity is not None:
        columns.append(("intensity", cloud.intensity))
    return columns


def _record(columns: list[tuple[str, NDArray[Any]]]) -> NDArray[Any]:
    dtype = np.dtype([(name, values.dtype.newbyteorder("<")) for name, values in columns])
    rows = np.empty(columns[0][1].shape[0], dtype=dtype)
    for name, values in columns:
        rows[name] = values
    return rows


def _text_format(dtype: np.dtype[Any]) -> str:
    """printf format that round-trips a value of ``dtype`` through text."""
    if dtype.kind == "f":
        return "%.9g" if dtype.itemsize == 4 else "%.17g"
    return "%d"


def write_pcd(cloud: PointCloud, mode: str = "binary") -> bytes:
    """PCD v0.7 with fields x y z [intensity], DATA ``ascii``, ``binary`` or ``binary_compressed``."""
    if mode not in ("ascii", "binary", "binary_compressed"):
        raise ValueError(f"unknown PCD mode {mode!r}")
    columns = _columns(cloud)
    n = cloud.count
    header = "\n".join(
        [
            "# .PCD v0.7 - Point Cloud Data file format",
            "VERSION 0.7",
            "FIELDS " + " ".join(name for name, _ in columns),
            "SIZE " + " ".join(str(values.dtype.itemsize) for _, values in columns),
            "TYPE " + " ".join(_PCD_TYPE[values.dtype.kind] for _, values in columns),
            "COUNT " + " ".join("1" for _ in columns),
            f"WIDTH {n}",
            "HEIGHT 1",
            "VIEWPOINT 0 0 0 1 0 0 0",
            f"POINTS {n}",
            f"DATA {mode}",
            "",
        ]
    ).encode("ascii")
    if mode == "binary":
        return header + _record(columns).tobytes()
    if mode == "binary_compressed":
        raw = b"".join(values.astype(values.dtype.newbyteorder("<")).tobytes() for _, values in columns)
        packed = lzf.compress(raw)
        return header + np.array([len(packed), len(raw)], dtype="<u4").tobytes() + packed
    text = io.StringIO()
    table = np.column_stack([values.astype(np.float64) for _, values in columns]) if n else np.zeros((0, 1))
    fmt = " ".join(_text_format(values.dtype) for _, values in columns)
    for row in table:
        text.write(fmt % tuple(row) + "\n")
    return header + text.getvalue().encode("ascii")


def write_bin(cloud: PointCloud) -> bytes:
    """KITTI Velodyne ``.bin``: float32 x, y, z, intensity (0 when the cloud has none).

    The segmentation transform's input is this very layout, so its encoder writes the file.
    """
    return encode_transform_input(cloud)


def write_ply(cloud: PointCloud, binary: bool = True) -> bytes:
    """PLY with one ``vertex`` element (x, y, z [, intensity]), binary little-endian or ascii."""
    columns = _columns(cloud)
    lines = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment written by the project",
    ]
    lines.append(f"element vertex {cloud.count}")
    for name, values in columns:
        lines.append(f"property {_PLY_TYPE[values.dtype.str[1:]]} {name}")
    lines.append("end_header")
    header = ("\n".join(lines) + "\n").encode("ascii")
    if binary:
        return header + _record(columns).tobytes()
    fmt = " ".join(_text_format(values.dtype) for _, values in columns)
    body = "".join(
        fmt % tuple(row) + "\n" for row in zip(*(values.tolist() for _, values in columns), strict=True)
    )
    return header + body.encode("ascii")


def write_las(cloud: PointCloud, version: str = "1.2", compressed: bool = False) -> bytes:
    """LAS 1.2 (point format 3) or 1.4 (point format 6), optionally LAZ-compressed, 1 mm scale.

    Coordinates must be finite (LAS stores scaled integers); intensity is rounded into uint16.
    """
    import laspy

    if not np.isfinite(cloud.xyz).all():
        raise ValueError("LAS cannot store NaN/Inf coordinates")
    point_format = {"1.2": 3, "1.3": 3, "1.4": 6}.get(version)
    if point_format is None:
        raise ValueError(f"unsupported LAS version {version!r}")
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.floor(cloud.xyz.min(axis=0)) if cloud.count else np.zeros(3)
    las = laspy.LasData(header)
    las.x = cloud.xyz[:, 0]
    las.y = cloud.xyz[:, 1]
    las.z = cloud.xyz[:, 2]
    if cloud.intensity is not None:
        las.intensity = np.clip(np.rint(cloud.intensity), 0, 65535).astype(np.uint16)
    out = io.BytesIO()
    las.write(out, do_compress=compressed, laz_backend=laspy.LazBackend.Lazrs if compressed else None)
    return out.getvalue()


def write(cloud: PointCloud, fmt: str) -> bytes:
    """The cloud in ``fmt`` with the default variant of each writer (binary where there is a choice)."""
    if fmt == "pcd":
        return write_pcd(cloud, "binary")
    if fmt == "las":
        return write_las(cloud, "1.4")
    if fmt == "laz":
        return write_las(cloud, "1.4", compressed=True)
    if fmt == "ply":
        return write_ply(cloud, binary=True)
    if fmt == "bin":
        return write_bin(cloud)
    raise ValueError(f"unknown format {fmt!r}")


def synthetic_scene_with_truth(n_points: int, seed: int = 0) -> tuple[PointCloud, NDArray[Any]]:
    """A street scene and the label each point was generated as.

    About 70% tilted, slightly rough ground (80 m x 80 m around the sensor), 18% on parked cars
    (boxes 0.3-1.8 m above ground), 5% on poles up to 6 m, 4% on low kerbs/bushes, and 3% outliers
    scattered through the volume above and below the road. Intensity is integral in 0..255 so the
    cloud round-trips through every format, LAS included.
    """
    rng = np.random.default_rng(seed)
    n_ground = int(n_points * 0.70)
    n_cars = int(n_points * 0.18)
    n_poles = int(n_points * 0.05)
    n_low = int(n_points * 0.04)
    n_noise = n_points - n_ground - n_cars - n_poles - n_low
    slope = np.array([0.01, -0.004])

    def ground_z(x: NDArray[Any], y: NDArray[Any]) -> NDArray[Any]:
        heights: NDArray[Any] = slope[0] * x + slope[1] * y - 1.7
        return heights

    parts: list[NDArray[Any]] = []
    truth: list[NDArray[Any]] = []

    xy = rng.uniform(-40, 40, size=(n_ground, 2))
    parts.append(np.column_stack([xy, ground_z(xy[:, 0], xy[:, 1]) + rng.normal(0, 0.03, n_ground)]))
    truth.append(np.full(n_ground, GROUND, dtype=np.uint8))

    cars = rng.uniform(-30, 30, size=(6, 2))
    which = rng.integers(0, 6, n_cars)
    local = rng.uniform([-2.25, -0.9, 0.3], [2.25, 0.9, 1.8], size=(n_cars, 3))
    cx, cy = cars[which, 0] + local[:, 0], cars[which, 1] + local[:, 1]
    parts.append(np.column_stack([cx, cy, ground_z(cx, cy) + local[:, 2]]))
    truth.append(np.full(n_cars, OBJECT, dtype=np.uint8))

    poles = rng.uniform(-35, 35, size=(5, 2))
    which = rng.integers(0, 5, n_poles)
    angle = rng.uniform(0, 2 * np.pi, n_poles)
    height = rng.uniform(0.6, 6.0, n_poles)
    px, py = poles[which, 0] + 0.15 * np.cos(angle), poles[which, 1] + 0.15 * np.sin(angle)
    parts.append(np.column_stack([px, py, ground_z(px, py) + height]))
    truth.append(np.where(height > 3.0, HIGH, OBJECT).astype(np.uint8))

    kerb = rng.uniform([-40, 7.0], [40, 7.6], size=(n_low, 2))
    parts.append(np.column_stack([kerb, ground_z(kerb[:, 0], kerb[:, 1]) + rng.uniform(0.3, 0.45, n_low)]))
    truth.append(np.full(n_low, LOW, dtype=np.uint8))

    out = rng.uniform([-40, -40, -8], [40, 40, 25], size=(n_noise, 3))
    parts.append(out)
    truth.append(np.full(n_noise, NOISE, dtype=np.uint8))

    xyz = np.concatenate(parts).astype(np.float32)
    labels = np.concatenate(truth)
    order = rng.permutation(n_points)
    intensity = rng.integers(0, 256, n_points).astype(np.float32)
    return PointCloud(xyz=xyz[order], intensity=intensity, format="bin"), labels[order]


def synthetic_scene(n_points: int, seed: int = 0) -> PointCloud:
    """:func:`synthetic_scene_with_truth` without the truth."""
    return synthetic_scene_with_truth(n_points, seed)[0]
