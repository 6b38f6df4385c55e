"""Contracts of discovery, video metadata and point-cloud QC, on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.autonomous_driving.uc9_helpers import (
    OUTPUT_BUCKET,
    Uc9,
    cloud_bytes,
    jpeg,
    mp4,
    patch_clients,
    qc,
    video,
)

# -- discovery ------------------------------------------------------------------------------------


def test_discovery_sorts_files_by_kind_and_keeps_lists_out_of_the_payload(uc9: Uc9) -> None:
    uc9.put("drive/a/clip.mp4", mp4())
    uc9.put("drive/a/clip.MOV", mp4())
    uc9.put("drive/a/clip.jpg", jpeg())
    uc9.put("lidar/a/scan.pcd", b"x")
    uc9.put("lidar/a/scan.LAZ", b"x")
    uc9.put("lidar/a/scan.bin", b"x")
    uc9.put("lidar/a/notes.txt", b"x")
    result = uc9.discover()
    assert result["run_id"] == "run-1"
    assert result["video"] == {
        "found": 2,
        "selected": 2,
        "truncated": False,
        "manifest_key": "runs/run-1/manifest/video.json",
    }
    assert result["pointclouds"]["found"] == 3
    manifest = uc9.output_json(result["pointclouds"]["manifest_key"])
    assert sorted(item["key"] for item in manifest["items"]) == [
        "lidar/a/scan.LAZ",
        "lidar/a/scan.bin",
        "lidar/a/scan.pcd",
    ]
    assert all({"key", "size", "etag", "last_modified"} <= set(item) for item in manifest["items"])
    assert "items" not in json.dumps(result)


def test_discovery_caps_each_kind_and_says_so(uc9: Uc9) -> None:
    uc9.env(MAX_FILES_PER_RUN="3")
    for i in range(7):
        uc9.put(f"lidar/scan-{i:02d}.bin", b"x")
    result = uc9.discover()
    assert result["pointclouds"] == {
        "found": 7,
        "selected": 3,
        "truncated": True,
        "manifest_key": "runs/run-1/manifest/pointclouds.json",
    }
    assert len(uc9.output_json(result["pointclouds"]["manifest_key"])["items"]) == 3


def test_discovery_of_an_empty_volume_writes_empty_manifests(uc9: Uc9) -> None:
    result = uc9.discover()
    assert result["video"]["found"] == result["pointclouds"]["found"] == 0
    assert uc9.output_json(result["video"]["manifest_key"])["items"] == []


def test_runs_are_keyed_per_execution(uc9: Uc9) -> None:
    first = uc9.discover("run-a")
    second = uc9.discover("run-b")
    assert first["video"]["manifest_key"] != second["video"]["manifest_key"]


def test_discovery_fails_loudly_without_its_configuration(uc9: Uc9, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OUTPUT_BUCKET")
    with pytest.raises(Exception, match="OUTPUT_BUCKET"):
        uc9.discover()


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
        result = video.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    finally:
        events.unregister("provide-client-params.s3.GetObject", counter)
    assert result["count"] == 2
    assert result["counts"] == {"SUCCEEDED": 2}
    items = {item["key"]: item for item in uc9.output_json(result["results_key"])["items"]}
    clip = items["drive/clip.mp4"]
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
    assert items["drive/other.mp4"]["labelling"]["status"] == "SKIPPED"
    assert "no frame decoder" in items["drive/other.mp4"]["labelling"]["reason"]
    video_reads = [(key, rng) for key, rng in counter.calls if key.endswith(".mp4")]
    assert video_reads, "the video was never read"
    assert all(rng is not None for _, rng in video_reads), "a video was downloaded whole"


def test_a_corrupt_video_is_failed_with_its_reason_and_others_go_on(uc9: Uc9) -> None:
    uc9.put("drive/broken.mp4", mp4()[:200])
    uc9.put("drive/good.mov", mp4())
    result = video.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    assert result["counts"] == {"FAILED": 1, "SUCCEEDED": 1}
    broken = next(item for item in result["items"] if item["key"] == "drive/broken.mp4")
    assert broken["status"] == "FAILED"
    assert "container could not be parsed" in broken["reason"]


def test_labelling_can_be_switched_off(uc9: Uc9) -> None:
    uc9.env(ENABLE_VIDEO_LABELS="false")
    uc9.put("drive/clip.mp4", mp4())
    uc9.put("drive/clip.jpg", jpeg())
    result = video.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    item = uc9.output_json(result["results_key"])["items"][0]
    assert item["labelling"]["status"] == "SKIPPED"
    assert "disabled" in item["labelling"]["reason"]


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
    result = video.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    labelling = uc9.output_json(result["results_key"])["items"][0]["labelling"]
    assert labelling["status"] == "FAILED"
    assert "InvalidImageFormatException" in labelling["reason"]


def test_rekognition_throttling_fails_the_invocation_so_the_state_retries(
    uc9: Uc9, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_clients(monkeypatch, rekognition=RejectingRekognition("ThrottlingException"))
    uc9.put("drive/clip.mp4", mp4())
    uc9.put("drive/clip.jpg", jpeg())
    with pytest.raises(ClientError):
        video.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)


# -- point-cloud QC -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pcd", "las", "laz", "ply", "bin"])
def test_qc_passes_a_good_cloud_in_every_format(uc9: Uc9, fmt: str) -> None:
    uc9.put(f"lidar/scan.{fmt}", cloud_bytes(fmt, 3000))
    result = qc.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    assert result["passed"] == 1, result
    item = uc9.output_json(result["results_key"])["items"][0]
    assert item["status"] == "PASSED"
    assert item["point_count"] == 3000
    assert item["format"] == fmt
    assert item["reasons"] == []


def test_qc_gives_every_file_its_own_status(uc9: Uc9) -> None:
    uc9.put("lidar/good.bin", cloud_bytes("bin", 2000))
    uc9.put("lidar/sparse.bin", cloud_bytes("bin", 50))
    uc9.put("lidar/truncated.pcd", cloud_bytes("pcd", 2000)[:-100])
    uc9.put("lidar/garbage.las", b"not a las file at all")
    result = qc.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    assert (result["count"], result["passed"], result["failed"]) == (4, 1, 3)
    items = {item["key"]: item for item in uc9.output_json(result["results_key"])["items"]}
    assert items["lidar/good.bin"]["status"] == "PASSED"
    assert "below the minimum 100" in items["lidar/sparse.bin"]["reason"]
    assert items["lidar/truncated.pcd"]["reason"].startswith("unreadable pcd file")
    assert items["lidar/garbage.las"]["status"] == "FAILED"
    assert all(item["reasons"] for key, item in items.items() if key != "lidar/good.bin")


def test_qc_refuses_files_above_the_size_limit_without_reading_them(uc9: Uc9) -> None:
    uc9.env(MAX_POINTCLOUD_MIB="1")
    uc9.put("lidar/big.bin", bytes(2 * 1024 * 1024))
    result = qc.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    assert "above MAX_POINTCLOUD_MIB=1" in result["items"][0]["reason"]


def test_qc_stops_downloading_a_file_that_grew_past_the_limit_after_listing(uc9: Uc9) -> None:
    uc9.env(MAX_POINTCLOUD_MIB="1")
    uc9.put("lidar/scan.bin", cloud_bytes("bin", 2000))
    discovered = uc9.discover()
    uc9.put("lidar/scan.bin", cloud_bytes("bin", 100_000))  # 1.6 MB of valid points, replaced later
    result = qc.handler({"execution": uc9.execution(), "discovery": discovered}, None)
    item = result["items"][0]
    assert item["status"] == "FAILED"
    assert "grew past 1048576 bytes since it was listed" in item["reason"]
    assert "MAX_POINTCLOUD_MIB=1" in item["reason"]


def test_qc_thresholds_come_from_the_environment(uc9: Uc9) -> None:
    uc9.env(QC_MIN_POINTS="5000")
    uc9.put("lidar/scan.bin", cloud_bytes("bin", 3000))
    result = qc.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    assert result["failed"] == 1
    assert "below the minimum 5000" in result["items"][0]["reason"]


def test_qc_of_zero_files_is_an_empty_success(uc9: Uc9) -> None:
    result = qc.handler({"execution": uc9.execution(), "discovery": uc9.discover()}, None)
    assert (result["count"], result["passed"], result["failed"]) == (0, 0, 0)
    assert uc9.output_json(result["results_key"])["items"] == []
    assert uc9.output_keys("runs/run-1/qc/") == ["runs/run-1/qc/results.json"]
    assert OUTPUT_BUCKET
