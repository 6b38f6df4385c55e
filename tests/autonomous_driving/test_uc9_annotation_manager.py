"""The annotation manager: COCO-style output and per-item status for every segmentation outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.polling.errors import TransientServiceError
from tests.autonomous_driving.uc9_helpers import (
    OUTPUT_BUCKET,
    StepFunctionsRecorder,
    Uc9,
    annotate,
    cloud_bytes,
    invoke,
    jpeg,
    mp4,
    patch_clients,
)

SKIPPED_STEP = {"status": "SKIPPED", "reason": "segmentation is disabled (EnableSageMakerTransform=false)"}
FAILED_STEP = {
    "status": "FAILED",
    "error": {"Error": "SageMaker.TransformJobFailed", "Cause": "AlgorithmError: out of memory"},
}


def _annotate(uc9: Uc9, found: dict[str, Any], analysis: Any, segmentation: dict[str, Any]) -> Any:
    event = {
        "run_id": found["run_id"],
        "execution_id": uc9.execution_id(found["run_id"]),
        "chunks_key": found["chunks_key"],
        "segmentation": segmentation,
    }
    return annotate.handler(event, None)


def _seed(uc9: Uc9) -> None:
    uc9.put("drive/clip.mp4", mp4(duration_s=2.0, fps=10.0, width=640, height=480))
    uc9.put("drive/clip.jpg", jpeg())
    uc9.put("lidar/good.bin", cloud_bytes("bin", 2000))
    uc9.put("lidar/sparse.bin", cloud_bytes("bin", 30))


def test_a_segmented_run_becomes_a_coco_document_with_lidar_annotations(
    uc9: Uc9, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(uc9)
    found, analysis = uc9.analyse()
    sfn = StepFunctionsRecorder()
    patch_clients(monkeypatch, stepfunctions=sfn)
    invoke.handler({"task_token": "t", "run_id": "run-1", "execution_id": uc9.execution_id()}, None)
    segmentation = json.loads(sfn.only()[1]["output"])
    result = _annotate(uc9, found, analysis, segmentation)

    assert result["status"] == "SUCCEEDED"
    assert result["annotations_uri"] == f"s3://{OUTPUT_BUCKET}/runs/run-1/annotations/coco.json"
    coco = uc9.output_json("runs/run-1/annotations/coco.json")
    assert set(coco) >= {"info", "licenses", "categories", "images", "annotations", "point_clouds"}
    assert coco["info"]["run_id"] == "run-1"
    names = {c["name"]: c for c in coco["categories"]}
    assert {"ground", "low", "object", "high", "noise"} <= set(names)
    assert len({c["id"] for c in coco["categories"]}) == len(coco["categories"])
    assert coco["images"][0]["file_name"] == "drive/clip.mp4"
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (640, 480)
    clouds = {pc["file_name"]: pc for pc in coco["point_clouds"]}
    assert clouds["lidar/good.bin"]["segmentation_status"] == "SUCCEEDED"
    assert clouds["lidar/sparse.bin"]["segmentation_status"] == "NOT_RUN"
    good_id = clouds["lidar/good.bin"]["id"]
    lidar = [a for a in coco["annotations"] if a.get("point_cloud_id") == good_id]
    assert sum(a["num_points"] for a in lidar) == 2000
    category_ids = {c["id"] for c in coco["categories"]}
    assert all(a["category_id"] in category_ids for a in coco["annotations"])
    scene = [a for a in coco["annotations"] if "image_id" in a]
    assert scene, "the thumbnail's Rekognition labels are image-level annotations"

    summary = uc9.output_json("runs/run-1/summary.json")
    assert summary["counts"]["segmentation_by_status"] == {"SUCCEEDED": 1, "NOT_RUN": 1}
    assert summary["bedrock_summary"]["status"] == "SKIPPED"
    good = uc9.result("lidar/good.bin")
    assert (good["status"], good["qc"]["status"]) == ("SUCCEEDED", "PASSED")
    assert sum(good["segmentation"]["label_counts"].values()) == 2000
    assert uc9.discover("run-2")["files_to_process"] == 0


def test_a_skipped_segmentation_gives_each_passed_cloud_a_skipped_status(uc9: Uc9) -> None:
    _seed(uc9)
    found, analysis = uc9.analyse()
    result = _annotate(uc9, found, analysis, SKIPPED_STEP)
    assert result["status"] == "SUCCEEDED"
    assert result["segmentation"] == SKIPPED_STEP
    clouds = {i["key"]: i for i in result["items"] if i["kind"] == "pointcloud"}
    assert clouds["lidar/good.bin"]["segmentation"] == {
        "status": "SKIPPED",
        "reason": "segmentation is disabled (EnableSageMakerTransform=false)",
    }
    assert clouds["lidar/sparse.bin"]["qc"]["status"] == "FAILED"
    assert clouds["lidar/sparse.bin"]["segmentation"]["status"] == "NOT_RUN"
    assert uc9.result("lidar/good.bin")["status"] == "SUCCEEDED"


def test_a_failed_segmentation_records_the_reason_per_cloud_and_still_succeeds(uc9: Uc9) -> None:
    _seed(uc9)
    found, analysis = uc9.analyse()
    result = _annotate(uc9, found, analysis, FAILED_STEP)
    assert result["status"] == "SUCCEEDED"
    assert result["segmentation"]["reason"] == "SageMaker.TransformJobFailed: AlgorithmError: out of memory"
    good = next(i for i in result["items"] if i["key"] == "lidar/good.bin")
    assert good["segmentation"]["status"] == "FAILED"
    assert "out of memory" in good["segmentation"]["reason"]


def test_a_failed_segmentation_job_is_final_for_its_clouds_so_no_run_pays_for_it_again(uc9: Uc9) -> None:
    _seed(uc9)
    found, analysis = uc9.analyse()
    result = _annotate(uc9, found, analysis, FAILED_STEP)
    document = uc9.result("lidar/good.bin")
    assert (document["status"], document["error"]) == ("FAILED", "SageMaker.TransformJobFailed")
    assert (
        document["reason"]
        == "segmentation failed: SageMaker.TransformJobFailed: AlgorithmError: out of memory"
    )
    assert result["counts"]["pointclouds_by_status"] == {"FAILED": 2}
    # The version has its (FAILED) result: the next run does not segment it again.
    assert uc9.discover("run-2")["files_to_process"] == 0


def test_a_catch_without_a_cause_still_reads_cleanly(uc9: Uc9) -> None:
    found, analysis = uc9.analyse()
    result = _annotate(uc9, found, analysis, {"status": "FAILED", "error": {"Error": "States.Timeout"}})
    assert result["segmentation"]["reason"] == "States.Timeout: no cause given"


def test_zero_files_is_a_success_with_empty_lists(uc9: Uc9) -> None:
    found, analysis = uc9.analyse()
    result = _annotate(
        uc9, found, analysis, {"status": "SKIPPED", "reason": "no point cloud of this run passed QC"}
    )
    assert result["status"] == "SUCCEEDED"
    assert result["items"] == []
    coco = uc9.output_json("runs/run-1/annotations/coco.json")
    assert coco["images"] == coco["point_clouds"] == coco["annotations"] == []


class Converse:
    def __init__(self, text: str = "", error: str = "") -> None:
        self.text, self.error = text, error
        self.requests: list[dict[str, Any]] = []

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "denied"}}, "Converse")
        return {"output": {"message": {"role": "assistant", "content": [{"text": self.text}]}}}


def test_the_bedrock_summary_is_written_from_counts(uc9: Uc9, monkeypatch: pytest.MonkeyPatch) -> None:
    bedrock = Converse(text="One cloud passed and was skipped; one failed QC.")
    patch_clients(monkeypatch, bedrock_runtime=bedrock)
    uc9.env(ENABLE_BEDROCK_SUMMARY="true", BEDROCK_MODEL_ID="amazon.nova-lite-v1:0")
    _seed(uc9)
    found, analysis = uc9.analyse()
    result = _annotate(uc9, found, analysis, SKIPPED_STEP)
    assert result["bedrock_summary"] == {
        "status": "SUCCEEDED",
        "model_id": "amazon.nova-lite-v1:0",
        "text": "One cloud passed and was skipped; one failed QC.",
    }
    request = bedrock.requests[0]
    assert request["modelId"] == "amazon.nova-lite-v1:0"
    assert "lidar/good.bin" not in request["messages"][0]["content"][0]["text"]


def test_a_refused_bedrock_call_is_a_recorded_failure_not_a_failed_run(
    uc9: Uc9, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, bedrock_runtime=Converse(error="AccessDeniedException"))
    uc9.env(ENABLE_BEDROCK_SUMMARY="true", BEDROCK_MODEL_ID="amazon.nova-lite-v1:0")
    found, analysis = uc9.analyse()
    result = _annotate(uc9, found, analysis, SKIPPED_STEP)
    assert result["status"] == "SUCCEEDED"
    assert result["bedrock_summary"]["status"] == "FAILED"
    assert "AccessDeniedException" in result["bedrock_summary"]["reason"]


def test_bedrock_throttling_raises_so_the_state_retries(uc9: Uc9, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_clients(monkeypatch, bedrock_runtime=Converse(error="ThrottlingException"))
    uc9.env(ENABLE_BEDROCK_SUMMARY="true", BEDROCK_MODEL_ID="amazon.nova-lite-v1:0")
    found, analysis = uc9.analyse()
    with pytest.raises(TransientServiceError, match="ThrottlingException"):
        _annotate(uc9, found, analysis, SKIPPED_STEP)


def test_a_file_without_a_result_is_listed_missing_so_the_next_run_takes_it(uc9: Uc9) -> None:
    uc9.put("drive/clip.mp4", mp4())
    found = uc9.discover()
    result = _annotate(uc9, found, [], SKIPPED_STEP)  # its per-file branch never wrote a result
    assert result["missing"] == ["drive/clip.mp4"]
    assert uc9.discover("run-2")["files_to_process"] == 1


def test_a_catch_without_a_cause_takes_the_reason_the_callback_recorded(uc9: Uc9) -> None:
    from autonomous_driving.transformjob import record_failure
    from shared.s3ap import S3AccessPoint

    record_failure(S3AccessPoint(OUTPUT_BUCKET), "run-1", "AlgorithmError: out of memory", mode="sagemaker")
    found, analysis = uc9.analyse()
    step = {"status": "FAILED", "error": {"Error": "SageMaker.TransformJobFailed"}}
    result = _annotate(uc9, found, analysis, step)
    assert result["segmentation"]["reason"] == "SageMaker.TransformJobFailed: AlgorithmError: out of memory"
