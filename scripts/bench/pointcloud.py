"""Point cloud readers and QC on 1M-point clouds, each beside a plain-Python reader of the same bytes.

The plain-Python baselines (``struct.unpack`` per record, Python loops) are timed on the first
100k points of the same file and extrapolated per point; the ratio is numpy's speed-up. Targets:
binary PCD, LAS and KITTI BIN at 5M points/s or more.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable

from scripts.bench import Report, stopwatch
from scripts.samples import pointclouds as samples
from shared.pointcloud import PointCloud, QCThresholds, qc, read, segment

logger = logging.getLogger(__name__)

POINTS = 1_000_000
BASELINE_POINTS = 100_000
TARGET = 5.0  # million points per second
TARGETED = {"pcd binary", "las 1.2", "las 1.4", "kitti bin"}


def _best_seconds(action: Callable[[], object], repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        with stopwatch() as elapsed:
            action()
        best = min(best, elapsed())
    return best


def _header_end(data: bytes, marker: bytes) -> int:
    """Offset just past the line that starts with ``marker`` (the end of a text header)."""
    return data.index(b"\n", data.index(marker) + 1) + 1


def _plain_records(data: bytes, start: int, fmt: str, n: int) -> list[tuple[float, ...]]:
    """The plain-Python reader: one struct.unpack per record, keeping the x, y, z, intensity fields."""
    record = struct.Struct(fmt)
    return [record.unpack_from(data, start + i * record.size)[:4] for i in range(n)]


def _plain_las(data: bytes, n: int) -> list[tuple[float, float, float, int]]:
    (offset,) = struct.unpack_from("<I", data, 96)
    (record,) = struct.unpack_from("<H", data, 105)
    sx, sy, sz, ox, oy, oz = struct.unpack_from("<6d", data, 131)
    rows = []
    for i in range(n):
        x, y, z, intensity = struct.unpack_from("<iiiH", data, offset + i * record)
        rows.append((x * sx + ox, y * sy + oy, z * sz + oz, intensity))
    return rows


def _plain_ascii(data: bytes, start: int, n: int) -> list[list[float]]:
    lines = data[start:].split(b"\n", n)[:n]
    return [[float(v) for v in line.split()] for line in lines]


def _plain_qc(cloud: PointCloud, n: int) -> dict[str, object]:
    """QC with Python loops: bounds, NaN count, intensity range, duplicates via a set of rounded tuples."""
    xyz = cloud.xyz[:n].tolist()
    intensity = cloud.intensity[:n].tolist() if cloud.intensity is not None else []
    low = [math.inf] * 3
    high = [-math.inf] * 3
    bad = 0
    seen: set[tuple[int, int, int]] = set()
    dups = 0
    for point in xyz:
        if not all(math.isfinite(v) for v in point):
            bad += 1
            continue
        for axis in range(3):
            low[axis] = min(low[axis], point[axis])
            high[axis] = max(high[axis], point[axis])
        key = (round(point[0] * 1000), round(point[1] * 1000), round(point[2] * 1000))
        if key in seen:
            dups += 1
        seen.add(key)
    return {"low": low, "high": high, "bad": bad, "dups": dups, "i": (min(intensity), max(intensity))}


def _mpts(points: int, seconds: float) -> float:
    return points / seconds / 1e6


def run(report: Report) -> None:
    cloud = samples.synthetic_scene(POINTS, seed=1)
    ascii_cloud = PointCloud(
        cloud.xyz[:200_000], cloud.intensity[:200_000] if cloud.intensity is not None else None, "pcd"
    )
    pcd_binary = samples.write_pcd(cloud, "binary")
    bin_data = samples.write_bin(cloud)
    ply_binary = samples.write_ply(cloud, binary=True)
    las12 = samples.write_las(cloud, "1.2")
    las14 = samples.write_las(cloud, "1.4")
    laz = samples.write_las(cloud, "1.4", compressed=True)
    pcd_ascii = samples.write_pcd(ascii_cloud, "ascii")
    pcd_compressed = samples.write_pcd(cloud, "binary_compressed")

    pcd_start = _header_end(pcd_binary, b"\nDATA ")
    ply_start = _header_end(ply_binary, b"end_header")
    ascii_start = _header_end(pcd_ascii, b"\nDATA ")
    b = BASELINE_POINTS
    cases: list[tuple[str, bytes, str, int, Callable[[], object] | None]] = [
        ("pcd binary", pcd_binary, "pcd", POINTS, lambda: _plain_records(pcd_binary, pcd_start, "<ffff", b)),
        ("kitti bin", bin_data, "bin", POINTS, lambda: _plain_records(bin_data, 0, "<ffff", b)),
        ("ply binary", ply_binary, "ply", POINTS, lambda: _plain_records(ply_binary, ply_start, "<ffff", b)),
        ("las 1.2", las12, "las", POINTS, lambda: _plain_las(las12, b)),
        ("las 1.4", las14, "las", POINTS, lambda: _plain_las(las14, b)),
        ("laz 1.4 (lazrs)", laz, "laz", POINTS, None),
        ("pcd binary_compressed (LZF)", pcd_compressed, "pcd", POINTS, None),
        (
            "pcd ascii (200k points)",
            pcd_ascii,
            "pcd",
            ascii_cloud.count,
            lambda: _plain_ascii(pcd_ascii, ascii_start, b),
        ),
    ]
    for name, data, fmt, points, plain in cases:
        seconds = _best_seconds(lambda data=data, fmt=fmt: read(data, fmt))  # type: ignore[misc]
        value = _mpts(points, seconds)
        baseline = _mpts(b, _best_seconds(plain, repeat=1)) if plain else None
        targeted = name in TARGETED
        report.add(
            f"read {name}",
            value,
            "Mpts/s",
            baseline=baseline,
            target=f"≥ {TARGET:g} Mpts/s" if targeted else "",
            met=value >= TARGET if targeted else None,
        )

    thresholds = QCThresholds()
    seconds = _best_seconds(lambda: qc(cloud, thresholds))
    baseline = _mpts(b, _best_seconds(lambda: _plain_qc(cloud, b), repeat=1))
    value = _mpts(POINTS, seconds)
    report.add(
        "qc (bounds, NaN, density, duplicates)",
        value,
        "Mpts/s",
        baseline=baseline,
        target="≥ 5 Mpts/s",
        met=value >= TARGET,
    )

    seconds = _best_seconds(lambda: segment(cloud.xyz), repeat=2)
    report.add("reference segmentation (RANSAC + voxels)", _mpts(POINTS, seconds), "Mpts/s")
