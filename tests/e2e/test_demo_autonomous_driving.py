"""UC9 autonomous-driving end to end on the embedded local cloud, asserting the demo's summary numbers.

Real mode: the segmentation step waits on a task token while a local SageMaker transform job runs
the reference segmentation, and the job's state-change event resumes the execution.
"""

from __future__ import annotations

import pytest

from autonomous_driving import demo as driver
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("autonomous-driving")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="autonomous-driving is not built yet"),
]

FILES = 9


def _run(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), FILES, out=lambda line: None, build_root=build, pip=local_layer_pip)


def _expected() -> dict[str, int]:
    samples = driver.plan(FILES)
    clouds = [s for s in samples if s.kind == "pointcloud"]
    videos = [s for s in samples if s.kind == "video"]
    return {
        "clouds": len(clouds),
        "clouds_failed": sum(1 for s in clouds if s.defect),
        "videos": len(videos),
        "videos_failed": sum(1 for s in videos if s.defect),
    }


def _every_flow_succeeds_including_the_failure_path(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "sagemaker callback",
        "heartbeat sweep",
        "a second run finds nothing new",
        "a run started during another exits",
        "failed transform job resumes the execution",
    ]
    assert summary.extra["failure path segmentation"] == "FAILED"
    # The cloud of the failed job has its FAILED result, so no later run pays for it again.
    assert summary.extra["failure path result"] == "FAILED"


def _discovery_finds_every_video_and_cloud(summary: Summary) -> None:
    expected = _expected()
    assert summary.files_seeded == expected["clouds"] + expected["videos"] == FILES
    assert summary.files_detected == FILES


def _run_summary_counts_match_the_seeded_defects(summary: Summary) -> None:
    expected = _expected()
    counts = summary.extra["run summary"]["counts"]
    passed = expected["clouds"] - expected["clouds_failed"]
    assert counts["qc_by_status"] == {"PASSED": passed, "FAILED": expected["clouds_failed"]}
    assert counts["segmentation_by_status"] == {"SUCCEEDED": passed, "NOT_RUN": expected["clouds_failed"]}
    assert counts["videos_by_status"] == {
        "SUCCEEDED": expected["videos"] - expected["videos_failed"],
        "FAILED": expected["videos_failed"],
    }
    assert summary.extra["run summary"]["segmentation"]["status"] == "SUCCEEDED"


def _one_transform_job_per_run_and_its_event_reached_the_callback(summary: Summary) -> None:
    assert list(summary.extra["transform jobs"].values()) == ["Completed"]
    assert summary.extra["state-change events delivered"] == 1
    assert summary.dlq_entries == 0


def _each_state_ran_once_and_outputs_cover_every_passed_cloud(summary: Summary) -> None:
    expected = _expected()
    passed = expected["clouds"] - expected["clouds_failed"]
    assert summary.items_per_state["Segment"] == 1
    assert summary.items_per_state["Annotate"] == 1
    inputs = [k for k in summary.output_keys if "/segmentation/input/" in k]
    outputs = [k for k in summary.output_keys if "/segmentation/output/" in k and k.endswith(".bin.out")]
    assert len(inputs) == len(outputs) == passed
    # One result document per file version: every seeded file, the video of the overlap check and
    # the late cloud of the last run.
    results = [k for k in summary.output_keys if k.startswith("results/by-key/")]
    assert len(results) == FILES + 2
    assert any(k.endswith("/annotations/coco.json") for k in summary.output_keys)
    assert any(k.endswith("/summary.json") for k in summary.output_keys)


def _metrics_were_extracted_from_every_invocation(summary: Summary) -> None:
    # Five standard metrics per invocation, five discovery metrics per run (listed, skipped,
    # deferred, deletions reconciled, runs skipped as in flight: 0), plus the three transform-job
    # outcome metrics (completed, failed, duration) for each job the callback settled: the real job
    # and the failure-path job.
    invocations = sum(summary.extra["functions invoked"].values())
    settled_jobs = 2
    # The run that found another in flight emits only RunsInFlightSkipped (1).
    runs = summary.extra["runs"]
    assert summary.metrics_emitted == 5 * invocations + 5 * (runs - 1) + 1 + 3 * settled_jobs


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    # One demo run checked from several sides; a single test keeps parallel workers from each
    # running the whole demo.
    summary = _run(tmp_path_factory)
    _every_flow_succeeds_including_the_failure_path(summary)
    _discovery_finds_every_video_and_cloud(summary)
    _run_summary_counts_match_the_seeded_defects(summary)
    _one_transform_job_per_run_and_its_event_reached_the_callback(summary)
    _each_state_ran_once_and_outputs_cover_every_passed_cloud(summary)
    _metrics_were_extracted_from_every_invocation(summary)
