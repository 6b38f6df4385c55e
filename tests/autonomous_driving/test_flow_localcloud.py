"""UC9 end to end on the embedded local cloud: the packaged template, deployed and executed.

One test per deployed configuration (a deploy takes several seconds, and tests of one module may
run on different workers), each running its scenarios in order:

* mock mode with ``MaxFilesPerRun=5`` over 12 files: three runs process all 12, each exactly once,
  a corrupt cloud among them becomes a FAILED result while its run SUCCEEDS, and a fourth run finds
  nothing to do;
* real mode: the SageMaker stand-in runs the reference model, emits the state-change event, the
  rule invokes the callback and the callback resumes the execution; then a model that fails, so
  the callback sends SendTaskFailure, the Catch path makes each of that run's clouds a FAILED
  result, and the next run does not pay for them again;
* segmentation disabled (the template's defaults): the Choice skips the step and each cloud that
  passed QC is a SUCCEEDED result with a SKIPPED segmentation; a cloud the volume refuses to read
  (AccessDenied, as an ONTAP file permission can) makes its QC step raise, and the per-file Catch
  turns that into a FAILED result; and a run started while another is in flight exits at once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autonomous_driving.segmentation import reference_model
from scripts.localcloud import AccessPoint, LocalCloud
from shared.formats.samples import pointclouds as samples
from shared.formats.samples.video import write_mp4
from tests.fixtures.fake_pip import FakePip

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/uc9-segmentation:1"


@pytest.fixture
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    build = tmp_path_factory.getbasetemp() / "uc9-build"  # shared per worker: zips are reused
    with LocalCloud(build_root=Path(build)) as opened:
        yield opened


def deploy(cloud: LocalCloud, name: str, **params: str) -> tuple[Any, AccessPoint]:
    access_point = cloud.create_access_point(bucket=f"{name}-volume", name=f"{name}-ap")
    parameters = {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "false",
        "QcMinPoints": "500",
        **params,
    }
    stack = cloud.deploy("autonomous-driving", parameters, stack_name=name, pip=FakePip())
    return stack, access_point


def put(cloud: LocalCloud, access_point: AccessPoint, key: str, body: bytes) -> None:
    cloud.client("s3").put_object(Bucket=access_point.bucket, Key=key, Body=body)


def cloud_file(points: int, seed: int, fmt: str = "bin") -> bytes:
    return samples.write(samples.synthetic_scene(points, seed), fmt)


def run(cloud: LocalCloud, stack: Any) -> Any:
    result = cloud.run_state_machine(stack.physical_ids["StateMachine"], {}, timeout_seconds=120)
    assert result.status == "SUCCEEDED", (result.status, result.error, result.cause)
    return result


def results(cloud: LocalCloud, stack: Any) -> dict[str, dict[str, Any]]:
    """Every result document in the output bucket, by source key."""
    s3 = cloud.client("s3")
    bucket = stack.outputs["OutputBucketName"]
    found: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/"):
        for item in page.get("Contents", []):
            body = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            assert body["source"]["key"] not in found, f"two results for {body['source']['key']}"
            found[body["source"]["key"]] = body
    return found


def per_file_invocations(cloud: LocalCloud, stack: Any) -> int:
    counts = cloud.invocation_counts()
    return sum(counts.get(stack.outputs[f"{fn}FunctionName"], 0) for fn in ("VideoMetadata", "PointCloudQc"))


def test_a_backlog_drains_over_runs_each_file_once_and_a_corrupt_cloud_fails_alone(cloud: LocalCloud) -> None:
    stack, access_point = deploy(
        cloud, "uc9budget", EnableSageMakerTransform="true", MockMode="true", MaxFilesPerRun="5"
    )
    for index in range(8):
        put(cloud, access_point, f"drive-01/lidar/{index:02d}.bin", cloud_file(1500 + index, index))
    put(cloud, access_point, "drive-01/lidar/04.bin", b"\x00" * 10)  # corrupt: not whole float32 rows
    for index in range(4):
        put(
            cloud,
            access_point,
            f"drive-01/video/{index:02d}.mp4",
            write_mp4(duration_s=1.0 + index, fps=10.0),
        )

    processed_by_run: list[set[str]] = []
    for expected_total in (5, 10, 12):
        result = run(cloud, stack)
        documents = results(cloud, stack)
        assert len(documents) == expected_total
        processed_by_run.append({key for key, doc in documents.items() if doc["run_id"] == result.name})
        assert result.output["status"] == "SUCCEEDED"
    assert [len(keys) for keys in processed_by_run] == [5, 5, 2]
    assert set().union(*processed_by_run) == set(results(cloud, stack))
    assert per_file_invocations(cloud, stack) == 12  # each file once, none again

    documents = results(cloud, stack)
    corrupt = documents["drive-01/lidar/04.bin"]
    assert corrupt["status"] == "FAILED"
    assert corrupt["reason"].startswith("unreadable bin file")
    assert corrupt["output_key"].startswith("results/by-key/drive-01/lidar/04.bin/")
    statuses = Counter(doc["status"] for doc in documents.values())
    assert statuses == {"SUCCEEDED": 11, "FAILED": 1}
    good = documents["drive-01/lidar/00.bin"]
    assert good["segmentation"]["status"] == "SUCCEEDED"
    assert sum(good["segmentation"]["label_counts"].values()) == 1500
    assert documents["drive-01/video/02.mp4"]["video"]["metadata"]["duration_s"] == pytest.approx(3.0)

    fourth = run(cloud, stack)
    assert fourth.states_entered()["NothingToDo"] == 1
    assert "ProcessFiles" not in fourth.states_entered()
    assert per_file_invocations(cloud, stack) == 12
    assert len(results(cloud, stack)) == 12


def test_real_mode_callback_and_a_failing_job_that_is_not_retried_every_hour(cloud: LocalCloud) -> None:
    stack, access_point = deploy(
        cloud, "uc9real", EnableSageMakerTransform="true", MockMode="false", ModelImageUri=IMAGE
    )
    model_name = stack.outputs["SegmentationModelName"]
    cloud.register_model(model_name, reference_model)
    put(
        cloud, access_point, "drive-01/front.mp4", write_mp4(duration_s=3.0, fps=10.0, width=1280, height=720)
    )
    put(cloud, access_point, "drive-01/lidar/000001.bin", cloud_file(4000, 1))
    put(cloud, access_point, "drive-01/lidar/000002.pcd", cloud_file(3000, 2, "pcd"))
    put(cloud, access_point, "drive-01/lidar/sparse.ply", cloud_file(40, 3, "ply"))

    output = run(cloud, stack).output
    assert output["segmentation"] == {"status": "SUCCEEDED"}
    documents = results(cloud, stack)
    assert documents["drive-01/lidar/000001.bin"]["segmentation"]["status"] == "SUCCEEDED"
    assert sum(documents["drive-01/lidar/000002.pcd"]["segmentation"]["label_counts"].values()) == 3000
    assert documents["drive-01/lidar/sparse.ply"]["error"] == "QualityThresholdMissed"
    callbacks = [i for i in cloud.runtime.invocations if i.function_name == stack.outputs[
        "SegmentationCallbackFunctionName"]]  # fmt: skip
    assert len(callbacks) == 1
    job_name = callbacks[0].payload["job_name"]
    assert job_name.startswith(stack.outputs["JobNamePrefix"] + "-")

    def broken_model(body: bytes, content_type: str) -> bytes:
        raise MemoryError("container ran out of memory")

    cloud.register_model(model_name, broken_model)
    put(cloud, access_point, "drive-02/lidar/000003.bin", cloud_file(2500, 4))
    failed = run(cloud, stack)
    assert failed.states_entered()["RecordSegmentationFailure"] == 1
    assert failed.output["segmentation"]["status"] == "FAILED"
    assert "out of memory" in failed.output["segmentation"]["reason"]  # recorded by the callback
    document = results(cloud, stack)["drive-02/lidar/000003.bin"]
    assert (document["status"], document["error"]) == ("FAILED", "SageMaker.TransformJobFailed")
    assert "out of memory" in document["reason"]
    jobs = len(cloud.sagemaker.finished)

    # The failed version has its result: the next run starts no paid job for it.
    after = run(cloud, stack)
    assert after.states_entered()["NothingToDo"] == 1
    assert len(cloud.sagemaker.finished) == jobs


def test_segmentation_disabled_by_default_a_refused_file_and_a_run_in_flight(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, access_point = deploy(cloud, "uc9off")
    put(cloud, access_point, "drive-01/lidar/000001.bin", cloud_file(4000, 1))
    put(cloud, access_point, "drive-01/lidar/broken.las", b"LASF but nothing after it")
    put(cloud, access_point, "drive-01/lidar/locked.bin", cloud_file(3000, 2))
    cloud.permissions.deny("drive-01/lidar/locked.bin")
    result = run(cloud, stack)
    assert result.states_entered()["SkipSegmentation"] == 1
    assert "Segment" not in result.states_entered()
    documents = results(cloud, stack)
    assert documents["drive-01/lidar/000001.bin"]["status"] == "SUCCEEDED"
    assert documents["drive-01/lidar/000001.bin"]["segmentation"] == {
        "status": "SKIPPED",
        "reason": "segmentation is disabled (EnableSageMakerTransform=false)",
    }
    assert documents["drive-01/lidar/broken.las"]["status"] == "FAILED"
    assert documents["drive-01/lidar/broken.las"]["segmentation"]["status"] == "NOT_RUN"
    locked = documents["drive-01/lidar/locked.bin"]  # written by the Catch target, not by QC
    assert (locked["status"], locked["error"]) == ("FAILED", "AccessDeniedError")
    assert "AccessDenied" in locked["reason"]
    assert result.output["counts"]["pointclouds_by_status"] == {"SUCCEEDED": 1, "FAILED": 2}

    # A run started while another one is still at its files exits without processing.
    put(cloud, access_point, "drive-02/lidar/000002.bin", cloud_file(2500, 3))
    entered, release = threading.Event(), threading.Event()
    qc_function, invoke = stack.outputs["PointCloudQcFunctionName"], cloud.runtime.run

    def held(function: Any, event: Any = None) -> Any:
        if function.function_name == qc_function and not release.is_set():
            entered.set()
            assert release.wait(120), "the second run never finished"
        return invoke(function, event)

    monkeypatch.setattr(cloud.runtime, "run", held)
    try:
        first_arn = cloud.start_execution("StateMachine", {})
        assert entered.wait(60), "the first run never reached its files"
        second = run(cloud, stack)
        assert second.states_entered()["AnotherRunInFlight"] == 1
        assert "ProcessFiles" not in second.states_entered()
    finally:
        release.set()
    first = cloud.stepfunctions.wait(first_arn)
    assert first.succeeded
    assert "drive-02/lidar/000002.bin" in results(cloud, stack)
