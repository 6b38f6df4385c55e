"""Run layout, job manifests and the payload budget shared by the UC9 segmentation functions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autonomous_driving.transformjob import (
    OUTPUT_BUDGET_BYTES,
    JobManifest,
    LayoutError,
    RunLayout,
    StagedItem,
    bounded,
    job_duration_ms,
    run_id_for,
    summarize,
)


@settings(max_examples=200, deadline=None)
@given(name=st.text(min_size=1, max_size=200).filter(lambda s: s.strip()))
def test_run_ids_are_key_safe_and_stable(name: str) -> None:
    run_id = run_id_for(name)
    assert run_id == run_id_for(name)
    assert 1 <= len(run_id) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "._=-") for c in run_id)
    layout = RunLayout(run_id)
    assert layout.annotations.startswith(f"runs/{run_id}/")
    assert ".." not in layout.root.split("/")


@pytest.mark.parametrize("name", ["", "   "])
def test_a_run_needs_an_execution_name(name: str) -> None:
    with pytest.raises(LayoutError):
        run_id_for(name)


def test_outputs_are_named_as_batch_transform_names_them() -> None:
    layout = RunLayout("run-1")
    assert layout.input_key(7) == "runs/run-1/segmentation/input/000007.bin"
    assert layout.output_key(7) == "runs/run-1/segmentation/output/000007.bin.out"
    assert layout.output_key(7).startswith(layout.segmentation_output_prefix)


def test_job_manifest_round_trips_and_rejects_damage() -> None:
    manifest = JobManifest(
        "run-1",
        "bucket",
        "application/x-kitti-bin",
        (StagedItem(0, "a.bin", "in/0", "out/0", 12),),
        ({"status": "FAILED", "reason": "changed", "source_key": "b.pcd"},),
    )
    assert JobManifest.from_json(manifest.to_json()) == manifest
    with pytest.raises(LayoutError):
        JobManifest.from_json(b'{"run_id": "x"}')
    with pytest.raises(LayoutError):
        JobManifest.from_json(b"not json")


def test_small_payloads_pass_unchanged() -> None:
    payload = {"status": "SUCCEEDED", "result_key": "k", "items": [{"key": "a"}]}
    assert bounded(payload) is payload


@settings(max_examples=30, deadline=None)
@given(count=st.integers(min_value=0, max_value=5000))
def test_payloads_never_exceed_the_budget_and_keep_their_pointer(count: int) -> None:
    items = [
        {"key": f"lidar/drive/{i:06d}.pcd", "status": "PASSED", "point_count": 120_000} for i in range(count)
    ]
    payload = bounded({"status": "SUCCEEDED", "results_key": "runs/r/qc/results.json", "items": items})
    assert len(json.dumps(payload)) <= OUTPUT_BUDGET_BYTES
    assert payload["results_key"] == "runs/r/qc/results.json"
    if payload["items"] != items:
        assert payload["items"] == []
        assert payload["items_omitted"] == count


def test_four_full_results_fit_in_one_state() -> None:
    assert 4 * OUTPUT_BUDGET_BYTES + 16 * 1024 <= 256 * 1024


def test_summarize_counts_statuses() -> None:
    assert summarize([{"status": "PASSED"}, {"status": "FAILED"}, {"status": "PASSED"}, {}]) == {
        "PASSED": 2,
        "FAILED": 2,
    }


START = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ({"TransformStartTime": 1_000, "TransformEndTime": 61_000}, 60_000.0),  # event: epoch ms
        ({"TransformStartTime": START, "TransformEndTime": START + dt.timedelta(seconds=2)}, 2_000.0),
        (
            {"TransformStartTime": "2026-03-01T08:00:00Z", "TransformEndTime": "2026-03-01T08:00:01.5Z"},
            1_500.0,
        ),
        ({"TransformStartTime": START.replace(tzinfo=None), "TransformEndTime": START}, 0.0),
        ({"TransformStartTime": 1_000}, None),
        ({}, None),
        ({"TransformStartTime": "soon", "TransformEndTime": "later"}, None),
        ({"TransformStartTime": True, "TransformEndTime": 5}, None),
        ({"TransformStartTime": 5_000, "TransformEndTime": 1_000}, None),
    ],
)
def test_job_duration_comes_only_from_known_start_and_end_times(
    job: dict[str, Any], expected: float | None
) -> None:
    assert job_duration_ms(job) == expected
