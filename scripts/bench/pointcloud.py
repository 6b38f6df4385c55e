"""Point cloud readers and QC on 1M-point clouds, each beside a plain-Python reader of the same bytes.

The plain-Python baselines (``struct.unpack`` per record, Python loops) are timed on the first
100k points of the same file and extrapolated per point; the ratio is numpy's speed-up. Targets:
binary PCD, LAS and KITTI BIN at 5M points/s or more.

The LZF decoder of binary_compressed PCD (liblzf) runs beside the pure-Python decoder it replaced,
kept here as the baseline, on one block laid out as a LiDAR driver's PCD is: column-major x, y, z,
intensity, ring and a per-point time. Target: 10x the old decoder's speed.

An ASCII PCD of 1M points (about 45 MiB) is read once under tracemalloc, beside the one-shot
conversion the reader used before it worked in bounded pieces (every token of the body as a Python
object, then one array): peak traced MiB, lower is better.
"""

from __future__ import annotations

import logging
import math
import struct
import tracemalloc
from collections.abc import Callable

import numpy as np

from autonomous_driving.quality import QCThresholds, qc
from autonomous_driving.segmentation import segment
from scripts.bench import Report, stopwatch
from shared.formats.pointcloud import PointCloud, lzf, read
from shared.formats.samples import pointclouds as samples

logger = logging.getLogger(__name__)

POINTS = 1_000_000
BASELINE_POINTS = 100_000
TARGET = 5.0  # million points per second
TARGETED = {"pcd binary", "las 1.2", "las 1.4", "kitti bin"}
LZF_TARGET = 10.0  # times the pure-Python decoder


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


def _python_lzf_decompress(src: bytes, expected_size: int) -> bytes:
    """The pure-Python LZF decoder that read binary_compressed PCD before liblzf: one loop per token."""
    out = bytearray()
    n = len(src)
    i = 0
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > n:
                raise ValueError("literal run overruns the input")
            out += src[i : i + run]
            i += run
            continue
        length = ctrl >> 5
        if length == 7:
            length += src[i]
            i += 1
        distance = ((ctrl & 0x1F) << 8) + src[i] + 1
        i += 1
        length += 2
        start = len(out) - distance
        if start < 0:
            raise ValueError("back reference before the start")
        if distance >= length:
            out += out[start : start + length]
        else:
            out += (out[start:] * (length // distance + 1))[:length]
    if len(out) != expected_size:
        raise ValueError(f"decoded to {len(out)} bytes, expected {expected_size}")
    return bytes(out)


def _lidar_block(cloud: PointCloud) -> bytes:
    """A binary_compressed PCD body before compression: one column after another, as PCL writes it."""
    n = cloud.count
    intensity = cloud.intensity if cloud.intensity is not None else np.zeros(n, np.float32)
    ring = (np.arange(n) % 64).astype("<u2")  # 64-beam sensor, beams interleaved
    time = (np.arange(n) * (0.1 / n)).astype("<f4")  # one 100 ms sweep
    columns = [cloud.xyz[:, axis].astype("<f4") for axis in range(3)]
    return b"".join(c.tobytes() for c in [*columns, intensity.astype("<f4"), ring, time])


def _lzf_rows(report: Report, cloud: PointCloud) -> None:
    raw = _lidar_block(cloud)
    packed = lzf.compress(raw)
    if not _python_lzf_decompress(packed, len(raw)) == lzf.decompress(packed, len(raw)) == raw:
        raise RuntimeError("the two LZF decoders disagree")
    new = _best_seconds(lambda: lzf.decompress(packed, len(raw)))
    old = _best_seconds(lambda: _python_lzf_decompress(packed, len(raw)), repeat=1)
    megabytes = len(raw) / 1e6
    ratio = old / new
    for value, baseline, unit in (
        (megabytes / new, megabytes / old, "MB/s"),
        (_mpts(cloud.count, new), _mpts(cloud.count, old), "Mpts/s"),
    ):
        report.add(
            f"lzf decode, liblzf vs pure Python ({len(packed) / len(raw):.0%} of raw)",
            value,
            unit,
            baseline=baseline,
            target=f"≥ {LZF_TARGET:g}x",
            met=ratio >= LZF_TARGET,
        )


def _peak_mib(action: Callable[[], object]) -> float:
    """Peak memory traced while ``action`` runs (numpy's buffers included), in MiB."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / (1 << 20)
    finally:
        tracemalloc.stop()


def _one_shot_ascii(data: bytes, start: int, points: int) -> object:
    """The former ASCII conversion: the whole body's tokens as Python objects, then one array."""
    return np.array(data[start:].split(), dtype=np.float64).reshape(points, -1)


def _ascii_memory_rows(report: Report, cloud: PointCloud) -> None:
    data = samples.write_pcd(cloud, "ascii")
    start = _header_end(data, b"\nDATA ")
    chunked = _peak_mib(lambda: read(data, "pcd"))
    one_shot = _peak_mib(lambda: _one_shot_ascii(data, start, cloud.count))
    report.add(
        f"read pcd ascii peak memory ({len(data) / (1 << 20):.0f} MiB file)",
        chunked,
        "MiB",
        baseline=one_shot,
        target="below the one-shot conversion",
        met=chunked < one_shot,
    )


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

    _lzf_rows(report, cloud)
    _ascii_memory_rows(report, cloud)

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
