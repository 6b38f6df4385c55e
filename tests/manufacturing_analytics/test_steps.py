"""UC3's per-file steps and report on moto: results, datasets, FAILED paths and the Rekognition call."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from botocore.exceptions import ClientError

from manufacturing_analytics import datasets, pipeline, report, samples
from scripts.localcloud.surface_labels import answer
from shared import config
from shared.analytics.writer import read_records
from shared.errors import FAILED, SUCCEEDED
from shared.polling.errors import TransientServiceError
from shared.polling.keys import output_key
from shared.report import ReportModelError
from shared.s3ap import S3AccessPoint

DAY = date(2026, 3, 1)
OUTPUT = "uc3-output"


class Rekognition:
    """Records each DetectLabels request and answers with the local surface stand-in (or an error)."""

    def __init__(self, error: str = "") -> None:
        self.requests: list[dict[str, Any]] = []
        self.error = error

    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "DetectLabels")
        return answer(kwargs["Image"]["Bytes"], kwargs["MaxLabels"], kwargs["MinConfidence"])


@pytest.fixture
def env(access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    access_point["client"].create_bucket(Bucket=OUTPUT)
    for name, value in {
        "USE_CASE": "manufacturing-analytics",
        "ACCESS_POINT": access_point["arn"],
        "OUTPUT_BUCKET": OUTPUT,
        "SENSOR_TIME_ZONE": "Asia/Tokyo",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = access_point["client"]
    return {
        "s3": s3,
        "source": S3AccessPoint(access_point["arn"], s3),
        "output": S3AccessPoint(OUTPUT, s3),
        "cfg": config.from_environ(pipeline.StepConfig),
    }


def _put(env: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    put = env["s3"].put_object(Bucket="fsxn-volume", Key=key, Body=body)
    return {
        "key": key,
        "etag": put["ETag"].strip('"'),
        "size": len(body),
        "last_modified": "",
        "run_id": "run-1",
    }


def _result(env: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(env["output"].get_bytes(output_key(event["key"], event["etag"]))))


def _dataset_keys(env: dict[str, Any], prefix: str) -> list[str]:
    listed = env["s3"].list_objects_v2(Bucket=OUTPUT, Prefix=f"{datasets.ROOT}/{prefix}/")
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def test_a_sensor_log_becomes_readings_anomalies_and_its_result(env: dict[str, Any]) -> None:
    event = _put(env, "plant/line-1/sensors/press-01.csv", samples.press_log(DAY))
    summary = pipeline.process_sensor_log(env["source"], env["output"], event, env["cfg"], s3=env["s3"])
    assert summary["status"] == SUCCEEDED
    body = _result(env, event)
    assert body["sensor"]["file"]["malformed_rows"] == 2
    assert body["sensor"]["method"]["name"].startswith("modified-z-score")
    anomaly_keys = _dataset_keys(env, "sensor/anomalies")
    anomalies = [
        r
        for k in anomaly_keys
        for r in read_records(
            datasets.SENSOR_ANOMALIES, env["s3"].get_object(Bucket=OUTPUT, Key=k)["Body"].read()
        )
    ]
    assert len(anomalies) == 3
    assert {a["machine"] for a in anomalies} == {"press-01"}
    readings_before = _dataset_keys(env, "sensor/readings")
    # The same version again (a retry, or the next run after a crash) replaces, never doubles.
    pipeline.process_sensor_log(env["source"], env["output"], event, env["cfg"], s3=env["s3"])
    assert _dataset_keys(env, "sensor/readings") == readings_before


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("no-header.csv", "CsvHeaderError"),
        ("no-timestamp.csv", "MissingColumnError"),
        ("latin1.csv", "CsvEncodingError"),
    ],
)
def test_an_unusable_sensor_log_is_a_failed_result_naming_the_problem(
    env: dict[str, Any], name: str, error: str
) -> None:
    event = _put(env, f"plant/line-2/sensors/{name}", samples.broken_logs(DAY)[name])
    summary = pipeline.process_sensor_log(env["source"], env["output"], event, env["cfg"], s3=env["s3"])
    assert summary["status"] == FAILED
    assert summary["error"] == error
    assert summary["reason"].startswith("unusable sensor log: ")
    assert _dataset_keys(env, "sensor/readings") == []


def test_an_image_goes_to_rekognition_as_bytes_never_as_an_s3_object(env: dict[str, Any]) -> None:
    event = _put(
        env, "plant/line-1/inspection/part-003_20260301T110500.jpg", samples.part_image(640, 480, 3, "crack")
    )
    rekognition = Rekognition()
    summary = pipeline.process_image(
        env["source"], env["output"], rekognition, event, env["cfg"], s3=env["s3"]
    )
    assert summary["status"] == SUCCEEDED
    (request,) = rekognition.requests
    assert set(request["Image"]) == {"Bytes"}
    body = _result(env, event)["inspection"]
    assert (body["line"], body["shift"], body["decision"]["label"]) == ("line-1", "A", "Crack")
    (key,) = _dataset_keys(env, "inspection/results")
    (row,) = read_records(datasets.INSPECTIONS, env["s3"].get_object(Bucket=OUTPUT, Key=key)["Body"].read())
    assert row["defect"] is True and row["shift"] == "A"
    assert "/dt=2026-03-01/" in key  # 11:05 in Tokyo is 02:05 UTC the same day


def test_an_image_over_5_mb_is_resized_before_the_call(env: dict[str, Any]) -> None:
    big = samples.big_png()
    event = _put(env, "plant/line-1/inspection/part-012_20260301T200000.png", big)
    rekognition = Rekognition()
    pipeline.process_image(env["source"], env["output"], rekognition, event, env["cfg"], s3=env["s3"])
    sent = rekognition.requests[0]["Image"]["Bytes"]
    assert len(big) > 5 * 1024 * 1024 >= len(sent)
    body = _result(env, event)["inspection"]
    assert body["image"]["resized"] is True and body["decision"]["defect"] is True


def test_a_broken_or_refused_image_is_a_failed_result(env: dict[str, Any]) -> None:
    image = samples.part_image(640, 480, 4)
    truncated = _put(env, "plant/line-2/inspection/part-013.jpg", image[:5000])
    summary = pipeline.process_image(
        env["source"], env["output"], Rekognition(), truncated, env["cfg"], s3=env["s3"]
    )
    assert (summary["status"], summary["error"]) == (FAILED, "ImageError")
    refused = _put(env, "plant/line-2/inspection/part-014.jpg", image)
    summary = pipeline.process_image(
        env["source"],
        env["output"],
        Rekognition("InvalidImageFormatException"),
        refused,
        env["cfg"],
        s3=env["s3"],
    )
    assert (summary["status"], summary["error"]) == (FAILED, "FileRejectedError")


def test_throttling_raises_for_the_state_to_retry(env: dict[str, Any]) -> None:
    event = _put(env, "plant/line-2/inspection/part-015.jpg", samples.part_image(640, 480, 5))
    with pytest.raises(TransientServiceError):
        pipeline.process_image(
            env["source"], env["output"], Rekognition("ThrottlingException"), event, env["cfg"], s3=env["s3"]
        )


class FailingBedrock:
    def converse(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Converse")


def test_a_model_error_fails_the_report_and_nothing_is_saved(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLUE_DATABASE", "db")
    monkeypatch.setenv("ATHENA_WORKGROUP", "wg")
    cfg = config.from_environ(report.ReportConfig)
    document = {
        "run_id": "run-1",
        "window": {"first": "2026-02-23", "last": "2026-03-01", "days": 7},
        "run": {"counts": {"image:SUCCEEDED": 1}, "failures": [], "missing_results": 0},
        "queries": {
            name: {"rows": [], "bytes_scanned": 0, "query_id": "q"}
            for name in (
                "defect_rate_by_line_and_shift",
                "anomalies_by_machine_and_day",
                "readings_by_machine",
            )
        },
        "findings": ["none"],
        "bytes_scanned": 0,
    }
    with pytest.raises(ReportModelError):
        report.write(env["output"], document, cfg, bedrock=FailingBedrock(), sns=None)
    assert env["s3"].list_objects_v2(Bucket=OUTPUT, Prefix="reports/").get("KeyCount", 0) == 0


def test_findings_name_lines_above_the_alert_and_machines_with_anomalies() -> None:
    results = {
        "defect_rate_by_line_and_shift": {
            "rows": [
                {"line": "line-1", "shift": "A", "images": 10, "defects": 1, "defect_rate_pct": 10.0},
                {"line": "line-2", "shift": "B", "images": 50, "defects": 1, "defect_rate_pct": 2.0},
            ]
        },
        "anomalies_by_machine_and_day": {
            "rows": [
                {"machine": "m1", "day": "2026-03-01", "anomalies": 2},
                {"machine": "m1", "day": "2026-03-02", "anomalies": 1},
            ]
        },
    }
    assert report.findings(results, 5.0) == [
        "line-1 shift A: 1 of 10 images defective (10.0%, above 5.0%)",
        "m1: 3 sensor anomalies in the window",
    ]
