"""Segmentation invoke and callback: mock mode, real mode with the token store, and every failure path."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from autonomous_driving import segmentation
from autonomous_driving.job import Heartbeat
from autonomous_driving.segmentation import reference_model
from shared.formats.pointcloud import decode_labels, encode_labels
from tests.autonomous_driving.uc9_helpers import (
    JOB_PREFIX,
    OUTPUT_BUCKET,
    REGION,
    StepFunctionsRecorder,
    Uc9,
    callback,
    cloud_bytes,
    invoke,
    patch_clients,
    transform_metrics,
)

TOKEN = "AAAA" + "t" * 2000  # longer than any tag value could hold
MODEL = "uc9-segmentation"


def _qc(uc9: Uc9) -> list[dict[str, Any]]:
    """Discovery and QC of every cloud of run-1: the run's passed clouds are then recorded."""
    return uc9.analyse()[1]


def _invoke(uc9: Uc9, qc_results: list[dict[str, Any]] | None = None, token: str = TOKEN) -> dict[str, Any]:
    return invoke.handler({"task_token": token, "run_id": "run-1", "execution_id": uc9.execution_id()}, None)


def _seed(uc9: Uc9) -> None:
    uc9.put("lidar/a.bin", cloud_bytes("bin", 3000, seed=1))
    uc9.put("lidar/b.pcd", cloud_bytes("pcd", 2500, seed=2))
    uc9.put("lidar/sparse.ply", cloud_bytes("ply", 20, seed=3))


def _seeded_qc(uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record Step Functions calls, seed the three clouds and run QC: the start of most tests here."""
    patch_clients(monkeypatch, stepfunctions=sfn)
    _seed(uc9)
    return _qc(uc9)


# -- mock mode ------------------------------------------------------------------------------------


def test_staging_refuses_a_cloud_above_max_pointcloud_mib_before_reading_it(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn)
    uc9.env(MOCK_MODE="true", MAX_POINTCLOUD_MIB="4")
    uc9.put("lidar/big.bin", cloud_bytes("bin", 100_000, seed=1))  # 1.6 MB
    uc9.put("lidar/small.bin", cloud_bytes("bin", 3000, seed=2))
    qc_result = _qc(uc9)
    uc9.env(MAX_POINTCLOUD_MIB="1")
    output = _invoke(uc9, qc_result)
    failed = [item for item in output["items"] if item["status"] == "FAILED"]
    assert [item["source_key"] for item in failed] == ["lidar/big.bin"]
    assert "more than the 1048576 this reader accepts (MAX_POINTCLOUD_MIB)" in failed[0]["reason"]


def test_mock_mode_segments_every_passed_cloud_and_answers_the_token(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    uc9.env(MOCK_MODE="true")
    result = _invoke(uc9, _seeded_qc(uc9, sfn, monkeypatch))
    kind, call = sfn.only()
    assert kind == "success"
    assert call["taskToken"] == TOKEN
    output = json.loads(call["output"])
    assert output == result
    assert output["status"] == "SUCCEEDED"
    assert output["mode"] == "mock"
    assert output["counts"] == {"SUCCEEDED": 2}
    by_source = {item["source_key"]: item for item in output["items"]}
    assert set(by_source) == {"lidar/a.bin", "lidar/b.pcd"}
    for source, points in (("lidar/a.bin", 3000), ("lidar/b.pcd", 2500)):
        item = by_source[source]
        assert item["point_count"] == points
        assert sum(item["label_counts"].values()) == points
        key = item["output_uri"].removeprefix(f"s3://{OUTPUT_BUCKET}/")
        assert key.startswith("runs/run-1/segmentation/output/")
        labels = decode_labels(uc9.s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read())
        assert labels.size == points
    # Pointers and counts only: no per-point labels travel through Step Functions.
    assert len(call["output"]) < 8 * 1024
    assert uc9.output_json(output["result_key"])["status"] == "SUCCEEDED"


def test_mock_mode_output_is_what_the_reference_model_gives_for_the_staged_input(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn)
    uc9.put("lidar/a.bin", cloud_bytes("bin", 3000, seed=1))
    _invoke(uc9, _qc(uc9))
    staged = uc9.s3.get_object(Bucket=OUTPUT_BUCKET, Key="runs/run-1/segmentation/input/000000.bin")[
        "Body"
    ].read()
    written = uc9.s3.get_object(Bucket=OUTPUT_BUCKET, Key="runs/run-1/segmentation/output/000000.bin.out")
    assert written["Body"].read() == reference_model(staged)


def test_mock_mode_counts_its_job_as_the_callback_counts_a_real_one(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    qc_result = _seeded_qc(uc9, sfn, monkeypatch)
    capsys.readouterr()
    _invoke(uc9, qc_result)
    metrics = transform_metrics(capsys.readouterr().out)
    assert set(metrics) == {"TransformJobsCompleted", "TransformJobsFailed", "TransformJobDuration"}
    assert metrics["TransformJobsCompleted"] == (1.0, "Count")
    assert metrics["TransformJobsFailed"] == (0.0, "Count")
    duration, unit = metrics["TransformJobDuration"]
    assert unit == "Milliseconds"
    assert duration >= 0


def test_a_mock_model_error_counts_a_failed_job_and_fails_the_task(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    qc_result = _seeded_qc(uc9, sfn, monkeypatch)

    def broken_model(body: bytes, content_type: str = "") -> bytes:
        raise RuntimeError("model crashed")

    monkeypatch.setattr(segmentation, "reference_model", broken_model)
    capsys.readouterr()
    _invoke(uc9, qc_result)
    metrics = transform_metrics(capsys.readouterr().out)
    assert metrics["TransformJobsCompleted"] == (0.0, "Count")
    assert metrics["TransformJobsFailed"] == (1.0, "Count")
    kind, call = sfn.only()
    assert kind == "failure"
    assert "model crashed" in call["cause"]


def test_no_job_no_job_metrics(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn)
    capsys.readouterr()
    _invoke(uc9, _qc(uc9))  # nothing discovered: SKIPPED, no job ran
    assert transform_metrics(capsys.readouterr().out) == {}


def test_nothing_passed_qc_is_a_skipped_success(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn)
    uc9.put("lidar/sparse.ply", cloud_bytes("ply", 20))
    _invoke(uc9, _qc(uc9))
    kind, call = sfn.only()
    output = json.loads(call["output"])
    assert (kind, output["status"]) == ("success", "SKIPPED")
    assert output["reason"] == "no point cloud of this run passed QC"


def test_zero_clouds_is_a_skipped_success(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn)
    _invoke(uc9, _qc(uc9))
    output = json.loads(sfn.only()[1]["output"])
    assert output["status"] == "SKIPPED"
    assert output["reason"] == "no point cloud of this run passed QC"


def test_a_cloud_changed_after_qc_is_a_per_item_failure(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    qc_result = _seeded_qc(uc9, sfn, monkeypatch)
    uc9.put("lidar/b.pcd", cloud_bytes("pcd", 2600, seed=9))  # rewritten between QC and staging
    _invoke(uc9, qc_result)
    output = json.loads(sfn.only()[1]["output"])
    assert output["status"] == "SUCCEEDED"
    by_source = {item["source_key"]: item for item in output["items"]}
    assert by_source["lidar/a.bin"]["status"] == "SUCCEEDED"
    assert by_source["lidar/b.pcd"]["status"] == "FAILED"
    assert "changed after QC" in by_source["lidar/b.pcd"]["reason"]


def test_any_error_is_reported_with_send_task_failure(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn)
    uc9.s3.put_object(Bucket=OUTPUT_BUCKET, Key="runs/run-1/passed/broken.json", Body=b"{}")
    result = _invoke(uc9)
    kind, call = sfn.only()
    assert kind == "failure"
    assert call["taskToken"] == TOKEN
    assert call["error"] == "Segmentation.KeyError"
    assert "source" in call["cause"]
    assert result["status"] == "FAILED"
    assert "source" in uc9.output_json("runs/run-1/segmentation/result.json")["reason"]


def test_if_even_send_task_failure_fails_the_invocation_raises(
    uc9: Uc9, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = StepFunctionsRecorder(
        error=ClientError({"Error": {"Code": "InternalFailure"}}, "SendTaskFailure")
    )
    patch_clients(monkeypatch, stepfunctions=broken)
    uc9.s3.put_object(Bucket=OUTPUT_BUCKET, Key="runs/run-1/passed/broken.json", Body=b"{}")
    with pytest.raises(ClientError):
        _invoke(uc9)


# -- real mode ------------------------------------------------------------------------------------


@pytest.fixture
def real_mode(uc9: Uc9) -> Uc9:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(
        ModelName=MODEL,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/uc9-transform",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/uc9-seg:1"},
    )
    uc9.env(MOCK_MODE="false", MODEL_NAME=MODEL)
    return uc9


def test_real_mode_stores_the_token_and_tags_the_job_with_the_correlation_id_only(
    real_mode: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _invoke(real_mode, _seeded_qc(real_mode, sfn, monkeypatch))
    assert sfn.calls == []  # the callback answers, not the invoke
    assert result["status"] == "SUBMITTED"
    job_name = result["job_name"]
    assert job_name.startswith(JOB_PREFIX + "-")
    assert len(job_name) <= 63
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    job = sagemaker.describe_transform_job(TransformJobName=job_name)
    assert job["ModelName"] == MODEL
    assert job["TransformInput"]["ContentType"] == "application/x-kitti-bin"
    source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == f"s3://{OUTPUT_BUCKET}/runs/run-1/segmentation/input/"
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{OUTPUT_BUCKET}/runs/run-1/segmentation/output/"
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=job["TransformJobArn"])["Tags"]}
    assert tags["CorrelationId"] == result["correlation_id"]
    assert all(len(value) <= 256 and TOKEN not in value for value in tags.values())
    record = real_mode.store().get(correlation_id=result["correlation_id"])
    assert record is not None
    assert (record.token, record.job_name, record.state) == (TOKEN, job_name, "WAITING")
    assert record.context["manifest_key"] == "runs/run-1/segmentation/job.json"
    assert len(real_mode.output_keys("runs/run-1/segmentation/input/")) == 2


class FailingSageMaker:
    def create_transform_job(self, **_: Any) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "ResourceLimitExceeded", "Message": "no instances"}}, "CreateTransformJob"
        )


def test_a_job_that_cannot_start_fails_the_task_at_once_and_the_token(
    real_mode: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn, sagemaker=FailingSageMaker())
    _seed(real_mode)
    _invoke(real_mode, _qc(real_mode))
    kind, call = sfn.only()
    assert kind == "failure"
    assert call["error"] == "Segmentation.SegmentationError"
    assert "ResourceLimitExceeded" in call["cause"]
    assert real_mode.store().waiting() == []


def test_real_mode_without_a_model_fails_the_task(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    uc9.env(MOCK_MODE="false", MODEL_NAME="")
    _invoke(uc9, _seeded_qc(uc9, sfn, monkeypatch))
    kind, call = sfn.only()
    assert kind == "failure"
    assert "MODEL_NAME is empty" in call["cause"]


# -- callback -------------------------------------------------------------------------------------


def _submit(uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return _invoke(uc9, _seeded_qc(uc9, sfn, monkeypatch))


def _run_container(uc9: Uc9, corrupt: bool = False) -> None:
    """What the model container does: one output per staged input."""
    for key in uc9.output_keys("runs/run-1/segmentation/input/"):
        body = uc9.s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()
        labels = reference_model(body)
        if corrupt:
            labels = encode_labels(decode_labels(labels)[:-1])
        out_key = key.replace("/input/", "/output/") + ".out"
        uc9.s3.put_object(Bucket=OUTPUT_BUCKET, Key=out_key, Body=labels)


def _event(
    job_name: str, status: str, tags: Any = None, reason: str | None = None, **times: Any
) -> dict[str, Any]:
    detail: dict[str, Any] = {"TransformJobName": job_name, "TransformJobStatus": status, **times}
    if tags is not None:
        detail["Tags"] = tags
    if reason is not None:
        detail["FailureReason"] = reason
    return {
        "version": "0",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Transform Job State Change",
        "region": REGION,
        "detail": detail,
    }


def test_completed_job_is_verified_and_resumes_the_execution_once(
    real_mode: Uc9,
    sfn: StepFunctionsRecorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    _run_container(real_mode)
    event = _event(
        submitted["job_name"],
        "Completed",
        {"CorrelationId": submitted["correlation_id"]},
        TransformStartTime=1_700_000_000_000,
        TransformEndTime=1_700_000_042_500,
    )
    capsys.readouterr()
    result = callback.handler(event, None)
    assert result["status"] == "SUCCEEDED"
    assert transform_metrics(capsys.readouterr().out) == {
        "TransformJobsCompleted": (1.0, "Count"),
        "TransformJobsFailed": (0.0, "Count"),
        "TransformJobDuration": (42_500.0, "Milliseconds"),
    }
    kind, call = sfn.only()
    assert (kind, call["taskToken"]) == ("success", TOKEN)
    output = json.loads(call["output"])
    assert output["status"] == "SUCCEEDED"
    assert output["mode"] == "sagemaker"
    assert output["job_name"] == submitted["job_name"]
    assert {item["point_count"] for item in output["items"]} == {3000, 2500}
    assert len(call["output"]) < 256 * 1024
    with caplog.at_level(logging.WARNING):
        again = callback.handler(event, None)
    assert again["status"] == "DUPLICATE"
    assert len(sfn.calls) == 1
    assert "already settled" in caplog.text
    assert transform_metrics(capsys.readouterr().out) == {}  # a duplicate event counts nothing


def test_an_event_without_tags_is_matched_by_job_name(
    real_mode: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    _run_container(real_mode)
    assert callback.handler(_event(submitted["job_name"], "Completed"), None)["status"] == "SUCCEEDED"
    assert sfn.only()[0] == "success"


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_or_stopped_job_sends_task_failure_with_the_reason(
    real_mode: Uc9,
    sfn: StepFunctionsRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: str,
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    tags = [{"Key": "CorrelationId", "Value": submitted["correlation_id"]}]
    event = _event(submitted["job_name"], status, tags, reason="ClientError: container exited with code 137")
    capsys.readouterr()
    callback.handler(event, None)
    # The event carries no start or end time here, so no duration is made up.
    assert transform_metrics(capsys.readouterr().out) == {
        "TransformJobsCompleted": (0.0, "Count"),
        "TransformJobsFailed": (1.0, "Count"),
    }
    kind, call = sfn.only()
    assert kind == "failure"
    assert call["error"] == f"SageMaker.TransformJob{status}"
    assert call["cause"] == "ClientError: container exited with code 137"
    record = real_mode.store().get(correlation_id=submitted["correlation_id"])
    assert record is not None
    assert record.state == "FAILED"
    recorded = real_mode.output_json("runs/run-1/segmentation/result.json")
    assert (recorded["status"], recorded["reason"]) == (
        "FAILED",
        "ClientError: container exited with code 137",
    )


def test_an_output_with_the_wrong_label_count_fails_the_task(
    real_mode: Uc9,
    sfn: StepFunctionsRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    _run_container(real_mode, corrupt=True)
    capsys.readouterr()
    callback.handler(_event(submitted["job_name"], "Completed"), None)
    metrics = transform_metrics(capsys.readouterr().out)
    assert (metrics["TransformJobsCompleted"][0], metrics["TransformJobsFailed"][0]) == (0.0, 1.0)
    kind, call = sfn.only()
    assert kind == "failure"
    assert call["error"] == "Segmentation.OutputInvalid"
    assert "labels for" in call["cause"]


def test_a_missing_output_fails_the_task(
    real_mode: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    callback.handler(_event(submitted["job_name"], "Completed"), None)
    kind, call = sfn.only()
    assert kind == "failure"
    assert "wrote no output" in call["cause"]


def test_unknown_and_foreign_jobs_are_logged_and_ignored(
    uc9: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    patch_clients(monkeypatch, stepfunctions=sfn)
    with caplog.at_level(logging.INFO):
        unknown = callback.handler(_event(f"{JOB_PREFIX}-0123456789abcdef0123", "Completed"), None)
        foreign = callback.handler(_event("someone-elses-job", "Completed"), None)
        running = callback.handler(_event(f"{JOB_PREFIX}-0123456789abcdef0123", "InProgress"), None)
    assert (unknown["status"], unknown["reason"]) == ("IGNORED", "unknown job")
    assert foreign["status"] == running["status"] == "IGNORED"
    assert sfn.calls == []
    assert "unknown or foreign job" in caplog.text


def test_a_tag_pointing_at_another_jobs_token_is_ignored(
    real_mode: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    other = f"{JOB_PREFIX}-ffffffffffffffffffff"
    result = callback.handler(
        _event(other, "Completed", {"CorrelationId": submitted["correlation_id"]}), None
    )
    assert result["status"] == "IGNORED"
    assert sfn.calls == []


def test_an_execution_that_is_gone_is_not_retried(
    real_mode: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    _run_container(real_mode)
    sfn.error = ClientError({"Error": {"Code": "TaskTimedOut"}}, "SendTaskSuccess")
    result = callback.handler(_event(submitted["job_name"], "Completed"), None)
    assert result["status"] == "EXECUTION_GONE"


def test_a_transient_send_failure_releases_the_claim_and_raises_for_a_retry(
    real_mode: Uc9, sfn: StepFunctionsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = _submit(real_mode, sfn, monkeypatch)
    _run_container(real_mode)
    sfn.error = ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendTaskSuccess")
    event = _event(submitted["job_name"], "Completed")
    with pytest.raises(ClientError):
        callback.handler(event, None)
    sfn.error = None
    assert callback.handler(event, None)["status"] == "SUCCEEDED"
    assert sfn.only()[0] == "success"


class SageMakerStatus:
    def __init__(self, status: str, reason: str = "", **times: dt.datetime) -> None:
        self.status, self.reason, self.times = status, reason, times

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:  # noqa: N803 - API shape
        return {
            "TransformJobName": TransformJobName,
            "TransformJobStatus": self.status,
            "FailureReason": self.reason,
            **self.times,
        }


def test_heartbeat_keeps_a_running_job_alive(
    real_mode: Uc9,
    sfn: StepFunctionsRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _submit(real_mode, sfn, monkeypatch)
    patch_clients(monkeypatch, stepfunctions=sfn, sagemaker=SageMakerStatus("InProgress"))
    capsys.readouterr()
    result = callback.handler({"action": "heartbeat"}, None)
    assert result["outcomes"] == {"HEARTBEAT": 1}
    assert transform_metrics(capsys.readouterr().out) == {}  # a running job has no outcome yet
    assert sfn.only() == ("heartbeat", {"taskToken": TOKEN})


def test_heartbeat_settles_a_job_whose_event_was_lost(
    real_mode: Uc9,
    sfn: StepFunctionsRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _submit(real_mode, sfn, monkeypatch)
    start = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    described = SageMakerStatus(
        "Failed",
        "AlgorithmError: boom",
        TransformStartTime=start,
        TransformEndTime=start + dt.timedelta(minutes=3),
    )
    patch_clients(monkeypatch, stepfunctions=sfn, sagemaker=described)
    capsys.readouterr()
    result = callback.handler({"action": "heartbeat"}, None)
    assert result["outcomes"] == {"FAILED": 1}
    assert transform_metrics(capsys.readouterr().out) == {
        "TransformJobsCompleted": (0.0, "Count"),
        "TransformJobsFailed": (1.0, "Count"),
        "TransformJobDuration": (180_000.0, "Milliseconds"),
    }
    kind, call = sfn.only()
    assert (kind, call["cause"]) == ("failure", "AlgorithmError: boom")
    assert callback.handler({"action": "heartbeat"}, None)["outcomes"] == {}


def test_long_staging_sends_heartbeats_and_a_refused_heartbeat_is_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sfn = StepFunctionsRecorder()
    beat = Heartbeat(sfn, TOKEN, interval=0.0)
    beat()
    beat()
    assert sfn.calls == [("heartbeat", {"taskToken": TOKEN}), ("heartbeat", {"taskToken": TOKEN})]
    sfn.error = ClientError({"Error": {"Code": "InvalidToken"}}, "SendTaskHeartbeat")
    with caplog.at_level(logging.WARNING):
        beat()
    assert "SendTaskHeartbeat failed" in caplog.text
    quiet = Heartbeat(StepFunctionsRecorder(), TOKEN, interval=3600.0)
    quiet()
    assert quiet.sent == 0


def test_the_registry_lists_exactly_the_job_metrics_each_settling_function_emits() -> None:
    """The dashboard's SageMaker widget is built from this registry, so it queries these names."""
    from scripts import catalog, metrics_registry

    uc = catalog.find("autonomous-driving")
    for folder in ("segmentation_callback", "segmentation_invoke"):
        own = metrics_registry.metrics_of_function(uc, folder)
        assert {name: unit for name, unit in own.items() if name.startswith("TransformJob")} == {
            "TransformJobsCompleted": "Count",
            "TransformJobsFailed": "Count",
            "TransformJobDuration": "Milliseconds",
        }
    for folder in ("discovery", "pointcloud_qc", "video_metadata", "annotation_manager"):
        assert not any(n.startswith("TransformJob") for n in metrics_registry.metrics_of_function(uc, folder))


class MissingJob:
    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:  # noqa: N803 - API shape
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": "Could not find job"}},
            "DescribeTransformJob",
        )


def test_heartbeat_fails_and_counts_a_job_sagemaker_does_not_know(
    real_mode: Uc9,
    sfn: StepFunctionsRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _submit(real_mode, sfn, monkeypatch)
    patch_clients(monkeypatch, stepfunctions=sfn, sagemaker=MissingJob())
    capsys.readouterr()
    assert callback.handler({"action": "heartbeat"}, None)["outcomes"] == {"FAILED": 1}
    kind, call = sfn.only()
    assert (kind, call["error"]) == ("failure", "SageMaker.TransformJobMissing")
    assert transform_metrics(capsys.readouterr().out) == {
        "TransformJobsCompleted": (0.0, "Count"),
        "TransformJobsFailed": (1.0, "Count"),
    }
    recorded = real_mode.output_json("runs/run-1/segmentation/result.json")
    assert recorded["status"] == "FAILED"
    assert recorded["reason"] == call["cause"]
    assert "does not exist" in recorded["reason"]
