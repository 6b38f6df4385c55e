"""Discovery, video metadata and point-cloud QC per file, on moto: each file gets its own result."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from shared.polling.contract import ContractError
from shared.polling.errors import TransientServiceError
from tests.autonomous_driving.uc9_helpers import (
    OUTPUT_BUCKET,
    Uc9,
    annotate,
    cloud_bytes,
    invoke,
    jpeg,
    mp4,
    patch_clients,
    qc,
    video,
)

# -- discovery ------------------------------------------------------------------------------------


def test_discovery_lists_videos_and_clouds_and_each_loaded_file_carries_its_kind(uc9: Uc9) -> None:
    uc9.put("drive/a/clip.mp4", mp4())
    uc9.put("drive/a/clip.MOV", mp4())
    uc9.put("drive/a/clip.jpg", jpeg())
    uc9.put("lidar/a/scan.pcd", b"x")
    uc9.put("lidar/a/scan.LAZ", b"x")
    uc9.put("lidar/a/scan.bin", b"x")
    uc9.put("lidar/a/notes.txt", b"x")
    found = uc9.discover()
    assert (found["run_id"], found["files_to_process"]) == ("run-1", 5)
    kinds = {file["key"]: file["kind"] for file in uc9.files(found)}
    assert kinds == {
        "drive/a/clip.MOV": "video",
        "drive/a/clip.mp4": "video",
        "lidar/a/scan.LAZ": "pointcloud",
        "lidar/a/scan.bin": "pointcloud",
        "lidar/a/scan.pcd": "pointcloud",
    }
    assert all({"key", "etag", "size", "last_modified"} <= set(file) for file in uc9.files(found))


def test_discovery_fails_loudly_without_its_configuration(uc9: Uc9, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OUTPUT_BUCKET")
    with pytest.raises(Exception, match="OUTPUT_BUCKET"):
        uc9.discover()


def test_a_file_with_a_result_is_not_listed_again_and_a_new_version_is(uc9: Uc9) -> None:
    uc9.put("drive/clip.mp4", mp4())
    uc9.analyse("run-1")
    assert uc9.discover("run-2")["files_to_process"] == 0
    uc9.put("drive/clip.mp4", mp4(duration_s=3.0))
    again = uc9.discover("run-3")
    assert [file["key"] for file in uc9.files(again)] == ["drive/clip.mp4"]


# -- video metadata -------------------------------------------------------------------------------


class RangeCounter:
    """Counts GetObject calls on the volume and whether each one asked for a byte range."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((params.get("Key", ""), params.get("Range")))


def test_video_metadata_reads_boxes_by_range_and_labels_a_sidecar_thumbnail(uc9: Uc9) -> None:
    uc9.put("drive/clip.mp4", mp4(duration_s=4.0, fps=25.0, width=1920, height=1080, moov_first=False))
    uc9.put("drive/clip.jpg", jpeg())
    uc9.put("drive/other.mp4", mp4(duration_s=1.0, fps=30.0))
    counter = RangeCounter()
    # The handler builds its clients from the default session; hook that session's events.
    events = boto3._get_default_session().events
    events.register("provide-client-params.s3.GetObject", counter)
    try:
        _, outcomes = uc9.analyse()
    finally:
        events.unregister("provide-client-params.s3.GetObject", counter)
    assert [outcome["status"] for outcome in outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    document = uc9.result("drive/clip.mp4")
    assert (document["kind"], document["status"], document["run_id"]) == ("video", "SUCCEEDED", "run-1")
    assert document["output_key"] == outcomes[0]["output_key"]
    clip = document["video"]
    assert clip["metadata"] == {
        "duration_s": pytest.approx(4.0),
        "fps": pytest.approx(25.0),
        "width": 1920,
        "height": 1080,
        "frame_count": 100,
        "codec": "avc1",
        "codec_family": "h264",
    }
    assert len(clip["sample_times_s"]) == 5
    assert clip["labelling"]["status"] == "SUCCEEDED"
    assert clip["labelling"]["source"] == "drive/clip.jpg"
    other = uc9.result("drive/other.mp4")["video"]
    assert other["labelling"]["status"] == "SKIPPED"
    assert "no frame decoder" in other["labelling"]["reason"]
    video_reads = [(key, rng) for key, rng in counter.calls if key.endswith(".mp4")]
    assert video_reads, "the video was never read"
    assert all(rng is not None for _, rng in video_reads), "a video was downloaded whole"


def test_a_corrupt_video_is_failed_with_its_reason_and_others_go_on(uc9: Uc9) -> None:
    uc9.put("drive/broken.mp4", mp4()[:200])
    uc9.put("drive/good.mov", mp4())
    _, outcomes = uc9.analyse()
    assert sorted(outcome["status"] for outcome in outcomes) == ["FAILED", "SUCCEEDED"]
    broken = uc9.result("drive/broken.mp4")
    assert broken["status"] == "FAILED"
    assert broken["error"] == "MediaError"
    assert "container could not be parsed" in broken["reason"]
    assert uc9.result("drive/good.mov")["status"] == "SUCCEEDED"


def test_labelling_can_be_switched_off(uc9: Uc9) -> None:
    uc9.env(ENABLE_VIDEO_LABELS="false")
    uc9.put("drive/clip.mp4", mp4())
    uc9.put("drive/clip.jpg", jpeg())
    uc9.analyse()
    labelling = uc9.result("drive/clip.mp4")["video"]["labelling"]
    assert labelling["status"] == "SKIPPED"
    assert "disabled" in labelling["reason"]


class RejectingRekognition:
    def __init__(self, code: str) -> None:
        self.code = code

    def detect_labels(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "DetectLabels")


def test_an_image_rekognition_rejects_is_a_per_video_failure(
    uc9: Uc9, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, rekognition=RejectingRekognition("InvalidImageFormatException"))
    uc9.put("drive/clip.mp4", mp4())
    uc9.put("drive/clip.png", b"not really a png")
    uc9.analyse()
    labelling = uc9.result("drive/clip.mp4")["video"]["labelling"]
    assert labelling["status"] == "FAILED"
    assert "InvalidImageFormatException" in labelling["reason"]


def test_rekognition_throttling_fails_the_invocation_so_the_state_retries(
    uc9: Uc9, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, rekognition=RejectingRekognition("ThrottlingException"))
    uc9.put("drive/clip.mp4", mp4())
    uc9.put("drive/clip.jpg", jpeg())
    with pytest.raises(TransientServiceError, match="ThrottlingException"):
        uc9.analyse()
    assert uc9.output_keys("results/") == []  # nothing recorded: the state retries, then the Catch does


# -- point-cloud QC -------------------------------------------------------------------------------


def _passed(uc9: Uc9, run_id: str = "run-1") -> dict[str, dict[str, Any]]:
    """The run's clouds that passed QC and wait for segmentation, by key."""
    records = [uc9.output_json(key) for key in uc9.output_keys(f"runs/{run_id}/passed/")]
    return {record["source"]["key"]: record for record in records}


@pytest.mark.parametrize("fmt", ["pcd", "las", "laz", "ply", "bin"])
def test_qc_passes_a_good_cloud_in_every_format(uc9: Uc9, fmt: str) -> None:
    uc9.put(f"lidar/scan.{fmt}", cloud_bytes(fmt, 3000))
    _, outcomes = uc9.analyse()
    assert outcomes == [{"key": f"lidar/scan.{fmt}", "status": "PASSED", "point_count": 3000}]
    record = _passed(uc9)[f"lidar/scan.{fmt}"]
    assert (record["qc"]["status"], record["qc"]["format"], record["qc"]["reasons"]) == ("PASSED", fmt, [])
    # Its result waits for the run's segmentation outcome (written by the annotation step).
    assert uc9.output_keys("results/") == []


def test_qc_gives_every_file_its_own_result(uc9: Uc9) -> None:
    uc9.put("lidar/good.bin", cloud_bytes("bin", 2000))
    uc9.put("lidar/sparse.bin", cloud_bytes("bin", 50))
    uc9.put("lidar/truncated.pcd", cloud_bytes("pcd", 2000)[:-100])
    uc9.put("lidar/garbage.las", b"not a las file at all")
    _, outcomes = uc9.analyse()
    assert sorted(outcome["status"] for outcome in outcomes) == ["FAILED", "FAILED", "FAILED", "PASSED"]
    assert set(_passed(uc9)) == {"lidar/good.bin"}
    sparse = uc9.result("lidar/sparse.bin")
    assert (sparse["status"], sparse["error"]) == ("FAILED", "QualityThresholdMissed")
    assert "below the minimum 100" in sparse["reason"]
    assert sparse["qc"]["point_count"] == 50
    assert sparse["segmentation"]["status"] == "NOT_RUN"
    truncated = uc9.result("lidar/truncated.pcd")
    assert truncated["reason"].startswith("unreadable pcd file")
    assert truncated["error"] == "PointCloudError" or truncated["error"].endswith("Error")
    assert uc9.result("lidar/garbage.las")["status"] == "FAILED"


def test_qc_refuses_files_above_the_size_limit_without_reading_them(uc9: Uc9) -> None:
    uc9.env(MAX_POINTCLOUD_MIB="1")
    uc9.put("lidar/big.bin", bytes(2 * 1024 * 1024))
    uc9.analyse()
    assert "above MAX_POINTCLOUD_MIB=1" in uc9.result("lidar/big.bin")["reason"]


def test_qc_stops_downloading_a_file_that_grew_past_the_limit_after_listing(uc9: Uc9) -> None:
    uc9.env(MAX_POINTCLOUD_MIB="1")
    uc9.put("lidar/scan.bin", cloud_bytes("bin", 2000))
    [file] = uc9.files(uc9.discover())
    uc9.put("lidar/scan.bin", cloud_bytes("bin", 100_000))  # 1.6 MB of valid points, replaced later
    outcome = qc.handler(file, None)
    assert outcome["status"] == "FAILED"
    assert "grew past 1048576 bytes since it was listed" in outcome["reason"]
    assert "MAX_POINTCLOUD_MIB=1" in outcome["reason"]


def test_qc_thresholds_come_from_the_environment(uc9: Uc9) -> None:
    uc9.env(QC_MIN_POINTS="5000")
    uc9.put("lidar/scan.bin", cloud_bytes("bin", 3000))
    uc9.analyse()
    assert "below the minimum 5000" in uc9.result("lidar/scan.bin")["reason"]


# A step fails loudly, naming what is missing, before it reads or writes anything.
FILE = {"key": "lidar/scan.pcd", "etag": "e1", "size": 10, "last_modified": "2026-11-26T12:00:00+00:00"}
RUN = {"run_id": "run-1", "execution_id": "arn:aws:states:us-east-1:123456789012:execution:m:run-1"}


@pytest.mark.parametrize(
    ("handler", "event", "missing"),
    [
        (qc, {"run_id": "run-1", "etag": "x"}, ["key", "size", "last_modified"]),
        # An etag defaulted to "" would file the result under no version at all.
        (video, {k: v for k, v in {**FILE, "run_id": "run-1"}.items() if k != "etag"}, ["etag"]),
        (invoke, {"task_token": "t", "execution_id": RUN["execution_id"]}, ["run_id"]),
        (annotate, {**RUN, "segmentation": {"status": "SKIPPED"}}, ["chunks_key"]),
    ],
    ids=["qc-file-fields", "video-etag", "invoke-run-id", "annotate-chunks-key"],
)
def test_each_step_checks_its_input_against_its_contract(
    uc9: Uc9, handler: Any, event: dict[str, Any], missing: list[str]
) -> None:
    with pytest.raises(ContractError, match=re.escape(f"input lacks {missing}")):
        handler.handler(event, None)
    assert OUTPUT_BUCKET
