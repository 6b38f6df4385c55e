"""QC figures on clouds built so every figure is known in advance, and each threshold's reason."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autonomous_driving.quality import QCThresholds, duplicate_count, qc
from shared import config
from shared.errors import FAILED
from shared.formats.pointcloud import PASSED, PointCloud

LENIENT = QCThresholds(min_points=1, max_nan_ratio=1.0, max_duplicate_ratio=1.0, min_density=0.0)


def _grid(step: float = 1.0, side: int = 10, z: float = 0.0) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(side) * step, np.arange(side) * step)
    return np.column_stack([xs.ravel(), ys.ravel(), np.full(side * side, z)])


def test_figures_on_a_known_cloud() -> None:
    grid = _grid()  # 100 points on 9 m x 9 m
    grid[:, 2] = np.arange(100) * 0.01  # z from 0 to 0.99
    duplicates = grid[:5] + np.array([0.0, 0.0, 0.0002])  # within 1 mm of the first five
    exact = grid[10:13]
    nan_rows = np.array([[np.nan, 0, 0], [0, np.inf, 0]])
    xyz = np.vstack([grid, duplicates, exact, nan_rows])
    intensity = np.concatenate([np.arange(108, dtype=np.float32), [np.nan, 5.0]])
    report = qc(PointCloud(xyz=xyz, intensity=intensity, format="pcd"), LENIENT)
    assert report["point_count"] == 110
    assert report["finite_count"] == 108
    assert report["nan_inf_count"] == 2
    assert report["nan_inf_ratio"] == pytest.approx(2 / 110, abs=1e-6)
    assert report["bounds"] == {"min": [0.0, 0.0, 0.0], "max": [9.0, 9.0, 0.99]}
    assert report["density_per_m2"] == pytest.approx(108 / 81, rel=1e-6)
    assert report["density_per_m3"] == pytest.approx(108 / (81 * 0.99), rel=1e-6)
    assert report["duplicate_count"] == 8
    assert report["duplicate_ratio"] == pytest.approx(8 / 108, abs=1e-6)
    assert report["intensity_range"] == [0.0, 107.0]
    assert report["status"] == PASSED
    assert report["reasons"] == []
    assert report["format"] == "pcd"


@pytest.mark.parametrize(
    ("thresholds", "reason"),
    [
        (QCThresholds(min_points=101), "point count 100 is below the minimum 101"),
        (
            QCThresholds(min_points=1, min_density=2.0),
            "density 1.235 points/m² is below the minimum 2.0 points/m²",
        ),
        (QCThresholds(min_points=1, intensity_min=10), "intensity minimum 0.0 is below 10"),
        (QCThresholds(min_points=1, intensity_max=50), "intensity maximum 99.0 is above 50"),
    ],
)
def test_each_threshold_gives_its_reason(thresholds: QCThresholds, reason: str) -> None:
    cloud = PointCloud(xyz=_grid(), intensity=np.arange(100, dtype=np.uint16), format="las")
    report = qc(cloud, thresholds)
    assert report["status"] == FAILED
    assert report["reasons"] == [reason]


def test_nan_and_duplicate_thresholds() -> None:
    xyz = np.vstack([_grid(), _grid()[:20], np.full((5, 3), np.nan)])
    report = qc(PointCloud(xyz=xyz, intensity=None, format="bin"), QCThresholds(min_points=1))
    assert report["status"] == FAILED
    assert report["intensity_range"] is None
    assert report["reasons"] == [
        f"NaN/Inf ratio {5 / 125:.4f} exceeds 0.01",
        "duplicate ratio 0.1667 exceeds 0.05",
    ]


def test_empty_and_degenerate_clouds() -> None:
    empty = qc(PointCloud(xyz=np.zeros((0, 3)), intensity=np.zeros(0), format="bin"), QCThresholds())
    assert empty["status"] == FAILED
    assert empty["bounds"] is None
    assert empty["reasons"] == ["point count 0 is below the minimum 1000"]
    line = np.column_stack([np.zeros(50), np.arange(50.0), np.zeros(50)])  # zero XY area
    report = qc(
        PointCloud(xyz=line, intensity=None, format="bin"), QCThresholds(min_points=1, min_density=1.0)
    )
    assert report["density_per_m2"] is None
    assert report["reasons"] == ["density undefined (zero XY extent) is below the minimum 1.0 points/m²"]
    all_nan = qc(PointCloud(xyz=np.full((4, 3), np.nan), intensity=None, format="bin"), LENIENT)
    assert all_nan["finite_count"] == 0
    assert all_nan["status"] == PASSED


def test_thresholds_from_environment() -> None:
    environ = {
        "QC_MIN_POINTS": "5000",
        "QC_MAX_NAN_RATIO": "0.2",
        "QC_MAX_DUPLICATE_RATIO": "0.3",
        "QC_MIN_DENSITY": "12.5",
        "QC_INTENSITY_MIN": "0",
        "QC_INTENSITY_MAX": "255",
    }
    thresholds = config.from_environ(QCThresholds, environ)
    assert thresholds == QCThresholds(5000, 0.2, 0.3, 12.5, 0.0, 255.0)
    assert config.from_environ(QCThresholds, {}) == QCThresholds()


@settings(max_examples=60, deadline=None)
@given(
    xyz=hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 300), st.just(3)),
        elements=st.sampled_from([0.0, 0.001, 0.0004, 1.5, -2.0, 1234.567, 1e9, -1e9, 3e12]),
    )
)
def test_duplicate_count_matches_a_plain_unique(xyz: np.ndarray) -> None:
    """Both the packed-key path and the wide-range fallback agree with np.unique on rounded rows."""
    expected = xyz.shape[0] - (np.unique(np.floor(xyz / 0.001 + 0.5), axis=0).shape[0] if xyz.shape[0] else 0)
    assert duplicate_count(xyz) == expected
