"""UC9 autonomous-driving on the embedded local cloud: video metadata, LiDAR QC and segmentation.

Three runs: the first processes every seeded file (one result document per file version) and
segments the clouds that pass QC in one transform job; the second finds every version done and
processes nothing; the third picks up one new cloud, whose transform job fails on purpose, so that
cloud gets a FAILED result with the job's reason.

The stack is deployed in real mode (``EnableSageMakerTransform=true``, ``MockMode=false``): the
segmentation step creates a SageMaker Batch Transform job and waits on a Step Functions task token.
Locally the job runs the project's reference segmentation (``shared.formats.pointcloud.transform``), writes
one ``.out`` per input, and its ``SageMaker Transform Job State Change`` event reaches the callback
function through the stack's EventBridge rule, which resumes the execution.

Sample data comes from the project's writers (``shared.formats.samples``): synthetic street scenes in
every point-cloud format the readers accept (PCD, LAS, LAZ, PLY, KITTI BIN), MP4 recordings with a
sidecar still for labelling, and files that must fail on purpose: a truncated cloud, a cloud below
the minimum point count and a truncated video.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.formats.samples import images, pointclouds, video

logger = logging.getLogger(__name__)

FORMATS = ("pcd", "las", "laz", "ply", "bin")
POINTS = 4000
TINY_POINTS = 200
DRIVE = "drives/2026-11-26/vehicle-07/"
MODEL_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/uc9-segmentation:local"


@dataclass(frozen=True)
class Sample:
    """One object written to the volume, and what the pipeline should make of it."""

    key: str
    kind: str  # "pointcloud", "video" or "still"
    defect: str | None = None


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableSageMakerTransform": "true",
        "MockMode": "false",
        "ModelImageUri": MODEL_IMAGE,
        "EnableVideoLabels": "true",
        "EnableBedrockSummary": "true",
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def plan(files: int) -> list[Sample]:
    """About two thirds point clouds and one third videos (each with its sidecar still)."""
    videos = max(1, files // 3)
    clouds = max(3, files - videos)
    samples: list[Sample] = []
    for index in range(clouds):
        fmt = FORMATS[index % len(FORMATS)]
        defect = {1: "truncated", 2: "too_few_points"}.get(index)
        samples.append(Sample(f"{DRIVE}lidar/scan-{index:04d}.{fmt}", "pointcloud", defect))
    for index in range(videos):
        defect = "truncated" if index == 1 else None
        samples.append(Sample(f"{DRIVE}camera/front-{index:04d}.mp4", "video", defect))
        samples.append(Sample(f"{DRIVE}camera/front-{index:04d}.jpg", "still"))
    return samples


def _body(sample: Sample, index: int) -> bytes:
    if sample.kind == "pointcloud":
        fmt = sample.key.rsplit(".", 1)[1]
        points = TINY_POINTS if sample.defect == "too_few_points" else POINTS
        data = pointclouds.write(pointclouds.synthetic_scene(points, seed=index), fmt)
        return data[: len(data) // 3] if sample.defect == "truncated" else data
    if sample.kind == "video":
        data = video.write_mp4(duration_s=2.0 + index % 3, fps=10.0, width=1920, height=1080)
        return data[: len(data) // 4] if sample.defect == "truncated" else data
    return images.render(images.SampleSpec(sample.key, 640, 360, seed=index))


def seed(cloud: Any, access_point: Any, files: int) -> int:
    s3 = cloud.client("s3")
    samples = plan(files)
    for index, sample in enumerate(samples):
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=_body(sample, index))
    return sum(1 for sample in samples if sample.kind != "still")


def _failing_model(body: bytes, content_type: str) -> bytes:
    raise RuntimeError("the segmentation container exited with code 1 (demo failure path)")


def _run_summary(cloud: Any, bucket: str, run_id: str) -> dict[str, Any]:
    """The run's summary document; empty when the run wrote none (the summary then shows zeros)."""
    from botocore.exceptions import ClientError

    try:
        return dict(cloud.read_json(bucket, f"runs/{run_id}/summary.json"))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchKey":
            raise
        return {}


def _overlapping_runs(cloud: Any, stack: Any, access_point: Any) -> bool:
    """Hold a run at its first per-file step, start another, and check that the second did nothing."""
    import threading

    cloud.client("s3").put_object(
        Bucket=access_point.arn,
        Key=f"{DRIVE}camera/overlap.mp4",
        Body=video.write_mp4(duration_s=1.0, fps=10.0, width=640, height=360),
    )
    entered, release = threading.Event(), threading.Event()
    target, run = stack.physical_ids["VideoMetadataFunction"], cloud.runtime.run

    def held(function: Any, event: Any = None) -> Any:
        if function.function_name == target and not release.is_set():
            entered.set()
            release.wait(120)
        return run(function, event)

    cloud.runtime.run = held
    try:
        first = cloud.start_execution("StateMachine", {})
        if not entered.wait(60):
            return False
        second = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
    finally:
        release.set()
        cloud.runtime.run = run
    return bool(
        cloud.stepfunctions.wait(first).succeeded
        and second.succeeded
        and second.states_entered().get("AnotherRunInFlight") == 1
    )


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    from autonomous_driving.segmentation import reference_model

    cloud.register_model(None, reference_model)
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        results = cloud.wait_for_executions(timeout_seconds=300)
        result = results[0] if results else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("pipeline state machine", ok, detail)
    if result is None:
        return
    summary.items_per_state = dict(result.states_entered())
    report = _run_summary(cloud, bucket, result.name)
    counts = report.get("counts") or {}
    summary.files_detected = int(counts.get("videos", 0)) + int(counts.get("pointclouds", 0))
    summary.extra["run summary"] = {
        "status": report.get("status"),
        "segmentation": report.get("segmentation"),
        "counts": counts,
        "bedrock summary": (report.get("bedrock_summary") or {}).get("status"),
    }
    with step("check the SageMaker transform job and its callback"):
        jobs = cloud.sagemaker.finished
        callbacks = [
            d for d in cloud.eventbridge.deliveries if d.detail_type.startswith("SageMaker Transform")
        ]
        summary.extra["transform jobs"] = dict(jobs)
        summary.extra["state-change events delivered"] = sum(1 for d in callbacks if d.ok)
        completed = bool(jobs) and all(status == "Completed" for status in jobs.values())
        delivered = bool(callbacks) and all(d.ok for d in callbacks)
        summary.flow(
            "sagemaker callback",
            completed and delivered,
            f"{len(jobs)} job(s), {len(callbacks)} state-change event(s)",
        )
    with step("tick the heartbeat sweep once (nothing left to settle)"):
        sweep = cloud.tick("HeartbeatSchedule")
        summary.flow("heartbeat sweep", all(f.ok for f in sweep))
    with step("run again: every file version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    with step("start a run while another is still at its files: the second exits at once"):
        summary.flow("a run started during another exits", _overlapping_runs(cloud, stack, access_point))
    with step("add a cloud and run once more with a model that fails (the failure path)"):
        cloud.register_model(None, _failing_model)
        late = f"{DRIVE}lidar/late-arrival.pcd"
        cloud.client("s3").put_object(
            Bucket=access_point.arn,
            Key=late,
            Body=pointclouds.write(pointclouds.synthetic_scene(POINTS, seed=99), "pcd"),
        )
        failing = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        failed_jobs = [name for name, status in cloud.sagemaker.finished.items() if status == "Failed"]
        segmentation = (
            (failing.output or {}).get("segmentation", {}) if isinstance(failing.output, dict) else {}
        )
        summary.extra["failure path segmentation"] = segmentation.get("status", "")
        late_result: dict[str, Any] = next(
            (item for item in (failing.output or {}).get("items", []) if item.get("key") == late), {}
        )
        summary.extra["failure path result"] = late_result.get("status", "")
        summary.flow(
            "failed transform job resumes the execution",
            failing.succeeded and bool(failed_jobs) and segmentation.get("status") == "FAILED",
            f"{failing.status}, segmentation {segmentation.get('status', '?')}",
        )
        cloud.register_model(None, reference_model)
    summary.extra["runs"] = 5
    keys: list[str] = []
    for prefix in (f"runs/{result.name}/", "results/"):
        for page in (
            cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
    summary.extra["functions invoked"] = cloud.function_counts(stack)
    queue = stack.physical_ids.get("CallbackDeadLetterQueue")
    if queue:
        attributes = cloud.client("sqs").get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        summary.dlq_entries = int(attributes.get("ApproximateNumberOfMessages", 0))
