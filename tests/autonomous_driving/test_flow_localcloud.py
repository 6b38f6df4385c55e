"""UC9 end to end on the embedded local cloud: the packaged template, deployed and executed.

One test per deployed configuration (a deploy takes several seconds, and tests of one module may
run on different workers), each running its scenarios in order:

* mock mode: a normal run, a run over a volume with no LiDAR file, and one where no cloud passes QC
  (the Segment task has ``HeartbeatSeconds``, and mock mode answers its token from inside the
  invoked function, before Step Functions starts waiting: the execution must still go on at once);
* real mode: the SageMaker stand-in runs the reference model, emits the state-change event, the
  rule invokes the callback and the callback resumes the execution; then a model that fails, so
  the callback sends SendTaskFailure and the Catch path records a FAILED status;
* segmentation disabled (the template's defaults): the Choice skips the step.

Every execution must SUCCEED, with a clear status per item.
"""

from __future__ import annotations

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


def seed(cloud: LocalCloud, access_point: AccessPoint, *, lidar: bool = True) -> None:
    s3 = cloud.client("s3")
    put = lambda key, body: s3.put_object(Bucket=access_point.bucket, Key=key, Body=body)  # noqa: E731
    put("drive-01/front.mp4", write_mp4(duration_s=3.0, fps=10.0, width=1280, height=720))
    if lidar:
        put("drive-01/lidar/000001.bin", samples.write(samples.synthetic_scene(4000, 1), "bin"))
        put("drive-01/lidar/000002.pcd", samples.write(samples.synthetic_scene(3000, 2), "pcd"))
        put("drive-01/lidar/sparse.ply", samples.write(samples.synthetic_scene(40, 3), "ply"))
        put("drive-01/lidar/broken.las", b"LASF but nothing after it")


def run(cloud: LocalCloud, stack: Any) -> Any:
    result = cloud.run_state_machine(stack.physical_ids["StateMachine"], {}, timeout_seconds=90)
    assert result.status == "SUCCEEDED", (result.status, result.error)
    return result


def clouds(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in output["items"] if item["kind"] == "pointcloud"}


def test_mock_mode_and_a_volume_without_lidar(cloud: LocalCloud) -> None:
    stack, access_point = deploy(cloud, "uc9mock", EnableSageMakerTransform="true", MockMode="true")
    assert "SegmentationModel" not in stack.physical_ids or not stack.physical_ids["SegmentationModel"]
    seed(cloud, access_point)

    result = run(cloud, stack)
    output = result.output
    assert result.states_entered()["Segment"] == 1
    assert output["segmentation"] == {"status": "SUCCEEDED"}
    items = clouds(output)
    assert items["drive-01/lidar/000001.bin"]["segmentation"]["status"] == "SUCCEEDED"
    assert sum(items["drive-01/lidar/000001.bin"]["segmentation"]["label_counts"].values()) == 4000
    assert items["drive-01/lidar/000002.pcd"]["segmentation"]["status"] == "SUCCEEDED"
    assert items["drive-01/lidar/sparse.ply"]["qc"]["status"] == "FAILED"
    assert items["drive-01/lidar/sparse.ply"]["segmentation"]["status"] == "NOT_RUN"
    assert items["drive-01/lidar/broken.las"]["qc"]["status"] == "FAILED"
    video = next(item for item in output["items"] if item["kind"] == "video")
    assert video["status"] == "SUCCEEDED"
    bucket = stack.outputs["OutputBucketName"]
    coco_key = output["annotations_uri"].removeprefix(f"s3://{bucket}/")
    assert coco_key == f"runs/{output['run_id']}/annotations/coco.json"
    cloud.client("s3").head_object(Bucket=bucket, Key=coco_key)

    # The same stack over a volume that holds video but no LiDAR file.
    s3 = cloud.client("s3")
    for key in [o["Key"] for o in s3.list_objects_v2(Bucket=access_point.bucket)["Contents"]]:
        if "/lidar/" in key:
            s3.delete_object(Bucket=access_point.bucket, Key=key)
    empty = run(cloud, stack).output
    assert empty["segmentation"]["status"] == "SKIPPED"
    assert empty["segmentation"]["reason"] == "no point cloud was discovered"
    assert clouds(empty) == {}
    assert empty["counts"]["videos"] == 1
    assert empty["run_id"] != output["run_id"]

    # Only clouds that fail QC: nothing to segment, still a success with a reason per cloud.
    s3.put_object(
        Bucket=access_point.bucket,
        Key="drive-02/lidar/sparse.bin",
        Body=samples.write(samples.synthetic_scene(30, 4), "bin"),
    )
    rejected = run(cloud, stack).output
    assert rejected["segmentation"] == {"status": "SKIPPED", "reason": "no point cloud passed QC"}
    sparse = clouds(rejected)["drive-02/lidar/sparse.bin"]
    assert sparse["qc"]["status"] == "FAILED"
    assert "below the minimum 500" in sparse["qc"]["reasons"][0]
    assert sparse["segmentation"]["status"] == "NOT_RUN"


def test_real_mode_callback_and_a_failing_job(cloud: LocalCloud) -> None:
    stack, access_point = deploy(
        cloud, "uc9real", EnableSageMakerTransform="true", MockMode="false", ModelImageUri=IMAGE
    )
    model_name = stack.outputs["SegmentationModelName"]
    cloud.register_model(model_name, reference_model)
    seed(cloud, access_point)

    result = run(cloud, stack)
    output = result.output
    assert output["segmentation"] == {"status": "SUCCEEDED"}
    items = clouds(output)
    assert items["drive-01/lidar/000001.bin"]["segmentation"]["status"] == "SUCCEEDED"
    assert sum(items["drive-01/lidar/000002.pcd"]["segmentation"]["label_counts"].values()) == 3000
    callbacks = [i for i in cloud.runtime.invocations if i.function_name == stack.outputs[
        "SegmentationCallbackFunctionName"]]  # fmt: skip
    assert len(callbacks) == 1
    job_name = callbacks[0].payload["job_name"]
    assert job_name.startswith(stack.outputs["JobNamePrefix"] + "-")
    tags = cloud.client("sagemaker").list_tags(
        ResourceArn=cloud.client("sagemaker").describe_transform_job(TransformJobName=job_name)[
            "TransformJobArn"
        ]
    )["Tags"]
    assert [t["Key"] for t in tags if t["Key"] == "CorrelationId"] == ["CorrelationId"]

    def broken_model(body: bytes, content_type: str) -> bytes:
        raise MemoryError("container ran out of memory")

    cloud.register_model(model_name, broken_model)
    failed = run(cloud, stack)
    assert failed.states_entered()["RecordSegmentationFailure"] == 1
    segmentation = failed.output["segmentation"]
    assert segmentation["status"] == "FAILED"
    assert "SageMaker.TransformJobFailed" in segmentation["reason"]
    assert "out of memory" in segmentation["reason"]  # recorded by the callback: moto drops the Cause
    failed_items = clouds(failed.output)
    assert failed_items["drive-01/lidar/000001.bin"]["segmentation"]["status"] == "FAILED"
    assert failed_items["drive-01/lidar/sparse.ply"]["segmentation"]["status"] == "NOT_RUN"


def test_segmentation_disabled_by_default(cloud: LocalCloud) -> None:
    stack, access_point = deploy(cloud, "uc9off")
    seed(cloud, access_point)
    result = run(cloud, stack)
    assert result.states_entered()["SkipSegmentation"] == 1
    assert "Segment" not in result.states_entered()
    output = result.output
    assert output["segmentation"]["status"] == "SKIPPED"
    items = clouds(output)
    assert items["drive-01/lidar/000001.bin"]["segmentation"] == {
        "status": "SKIPPED",
        "reason": "segmentation is disabled (EnableSageMakerTransform=false)",
    }
    assert items["drive-01/lidar/broken.las"]["segmentation"]["status"] == "NOT_RUN"
