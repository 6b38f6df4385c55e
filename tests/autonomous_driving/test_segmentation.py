"""Reference segmentation: finds the ground, keeps count and order, and its transform wire format."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autonomous_driving.segmentation import fit_ground_plane, label_counts, reference_model, segment
from shared.formats.pointcloud import (
    GROUND,
    HIGH,
    INPUT_CONTENT_TYPE,
    LABELS,
    NOISE,
    OBJECT,
    LabelFormatError,
    PointCloudError,
    decode_labels,
    decode_transform_input,
    encode_labels,
    encode_transform_input,
    read,
)
from shared.formats.samples.pointclouds import synthetic_scene, synthetic_scene_with_truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_ground_on_synthetic_scenes(seed: int) -> None:
    cloud, truth = synthetic_scene_with_truth(60_000, seed=seed)
    labels = segment(cloud.xyz, seed=seed)
    ground = truth == GROUND
    assert np.mean(labels[ground] == GROUND) > 0.9
    # Few non-ground points are called ground; tall poles and scattered outliers are found.
    assert np.mean(labels[~ground] == GROUND) < 0.05
    assert np.mean(labels[truth == HIGH] == HIGH) > 0.9
    assert np.mean(labels[truth == NOISE] == NOISE) > 0.8
    assert np.mean(labels[truth == OBJECT] != GROUND) > 0.95


def test_plane_fit_recovers_a_tilted_plane() -> None:
    rng = np.random.default_rng(5)
    xy = rng.uniform(-20, 20, size=(5000, 2))
    z = 0.05 * xy[:, 0] - 0.02 * xy[:, 1] + 3 + rng.normal(0, 0.01, 5000)
    clutter = rng.uniform([-20, -20, 4], [20, 20, 10], size=(1500, 3))
    plane = fit_ground_plane(np.vstack([np.column_stack([xy, z]), clutter]), seed=1)
    expected = np.array([-0.05, 0.02, 1.0]) / np.linalg.norm([-0.05, 0.02, 1.0])
    np.testing.assert_allclose(plane.normal, expected, atol=2e-3)
    assert plane.height(np.array([[0.0, 0.0, 3.0]]))[0] == pytest.approx(0.0, abs=0.01)
    assert plane.inlier_ratio > 0.7


def test_nan_points_are_noise_and_others_unchanged() -> None:
    cloud = synthetic_scene(20_000, seed=3)
    baseline = segment(cloud.xyz, seed=7)
    xyz = np.insert(
        cloud.xyz,
        [0, 100, 100, 20_000],
        [[np.nan, 0, 0], [0, np.inf, 0], [0, 0, -np.inf], [np.nan] * 3],
        axis=0,
    )
    labels = segment(xyz, seed=7)
    finite = np.isfinite(xyz).all(axis=1)
    assert labels.shape == (20_004,)
    assert (labels[~finite] == NOISE).all()
    np.testing.assert_array_equal(labels[finite], baseline)


def test_deterministic_per_seed_and_in_input_order() -> None:
    cloud, truth = synthetic_scene_with_truth(30_000, seed=9)
    first = segment(cloud.xyz, seed=3)
    np.testing.assert_array_equal(first, segment(cloud.xyz.copy(), seed=3))
    # Reversing the input reverses the labels' agreement with the truth: labels follow the points.
    reversed_labels = segment(cloud.xyz[::-1], seed=3)
    assert np.mean(reversed_labels[::-1][truth == GROUND] == GROUND) > 0.9


@pytest.mark.parametrize(
    "xyz",
    [
        np.zeros((0, 3)),
        np.zeros((1, 3)),
        np.ones((2, 3)),
        np.ones((500, 3)),  # all identical: no plane, one dense voxel
        np.column_stack([np.arange(100.0), np.zeros(100), np.zeros(100)]),  # a line
        np.column_stack([np.zeros(400), *(a.ravel() for a in np.meshgrid(np.arange(20.0), np.arange(20.0)))]),
        np.full((10, 3), np.nan),
        np.array([[1e300, -1e300, 1e300], [0, 0, 0], [1, 1, 1], [2, 2, 2]]),
    ],
    ids=["empty", "one", "two", "identical", "line", "wall", "all-nan", "extreme"],
)
def test_degenerate_inputs(xyz: np.ndarray) -> None:
    labels = segment(xyz)
    assert labels.dtype == np.uint8
    assert labels.shape == (xyz.shape[0],)
    assert set(labels.tolist()) <= set(LABELS)


def test_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        segment(np.zeros((4, 2)))


@st.composite
def generated_clouds(draw: st.DrawFn, sizes: st.SearchStrategy[int]) -> np.ndarray:
    n = draw(sizes)
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["scene", "uniform", "clustered", "flat"]))
    rng = np.random.default_rng(seed)
    if kind == "scene":
        xyz = synthetic_scene(n, seed=seed % 1000).xyz
    elif kind == "uniform":
        xyz = rng.uniform(-draw(st.floats(0.01, 1e4)), 1e3, size=(n, 3))
    elif kind == "clustered":
        xyz = rng.normal(0, 0.01, size=(n, 3)) + rng.integers(0, 3, size=(n, 1))
    else:
        xyz = np.column_stack([rng.uniform(-5, 5, (n, 2)), np.zeros(n)])
    bad = draw(st.floats(0, 0.2))
    mask = rng.random(n) < bad
    xyz = xyz.astype(draw(st.sampled_from([np.float32, np.float64])))
    xyz[mask, rng.integers(0, 3)] = np.nan
    return xyz


def _check_invariants(xyz: np.ndarray, seed: int) -> None:
    labels = segment(xyz, seed=seed)
    assert labels.dtype == np.uint8
    assert labels.shape == (xyz.shape[0],)
    assert int(labels.max(initial=0)) <= max(LABELS)
    assert (labels[~np.isfinite(xyz).all(axis=1)] == NOISE).all()
    assert sum(label_counts(labels).values()) == xyz.shape[0]


@settings(max_examples=40, deadline=None)
@given(xyz=generated_clouds(st.integers(0, 5_000)), seed=st.integers(0, 100))
def test_count_invariant_small(xyz: np.ndarray, seed: int) -> None:
    _check_invariants(xyz, seed)


@pytest.mark.slow
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(xyz=generated_clouds(st.integers(200_000, 1_000_000)), seed=st.integers(0, 100))
def test_count_invariant_up_to_a_million(xyz: np.ndarray, seed: int) -> None:
    _check_invariants(xyz, seed)


# --------------------------------------------------------------------------------- transform I/O


def test_reference_model_matches_segment_on_the_kitti_payload() -> None:
    cloud = synthetic_scene(10_000, seed=11)
    body = encode_transform_input(cloud)
    assert len(body) == 16 * cloud.count
    rows = decode_transform_input(body)
    np.testing.assert_array_equal(rows[:, :3], cloud.xyz)
    np.testing.assert_array_equal(read(body, "bin").xyz, cloud.xyz)
    labels = decode_labels(reference_model(body, INPUT_CONTENT_TYPE))
    np.testing.assert_array_equal(labels, segment(cloud.xyz))
    again = decode_labels(reference_model(memoryview(body), "application/x-kitti-bin; charset=binary"))
    np.testing.assert_array_equal(again, labels)


def test_transform_input_without_intensity_and_bad_inputs() -> None:
    cloud = synthetic_scene(100, seed=1)
    plain = type(cloud)(xyz=cloud.xyz.astype(np.float64), intensity=None, format="las")
    rows = decode_transform_input(encode_transform_input(plain))
    assert (rows[:, 3] == 0).all()
    with pytest.raises(PointCloudError, match="content type"):
        reference_model(b"", "text/csv")
    with pytest.raises(PointCloudError, match="16-byte points"):
        reference_model(bytes(20), INPUT_CONTENT_TYPE)
    assert decode_labels(reference_model(b"", INPUT_CONTENT_TYPE)).size == 0


@settings(max_examples=50, deadline=None)
@given(labels=st.lists(st.integers(0, 4), max_size=3000))
def test_labels_round_trip(labels: list[int]) -> None:
    body = encode_labels(np.array(labels, dtype=np.uint8))
    assert len(body) == 8 + len(labels)
    assert decode_labels(body).tolist() == labels


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"PCL", "shorter than its 8-byte header"),
        (b"XXXX\x01\x00\x00\x00\x00", "expected b'PCLB'"),
        (b"PCLB\x03\x00\x00\x00\x00\x00", "announces 3 labels but carries 2"),
        (b"PCLB\x01\x00\x00\x00\x00\x00", "announces 1 labels but carries 2"),
        (b"PCLB\x02\x00\x00\x00\x00\x09", "label 9"),
    ],
)
def test_decode_labels_rejects(body: bytes, reason: str) -> None:
    with pytest.raises(LabelFormatError, match=reason):
        decode_labels(body)


def test_encode_labels_rejects() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        encode_labels(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"0\.\.4"):
        encode_labels(np.array([5]))
