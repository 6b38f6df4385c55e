"""One frame checked and a run's sequences reported, on moto: results, thumbnails, reports, proxies.

Outputs land in the output bucket only; the volume (the access point's bucket) is never written.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import numpy as np
import pytest

from media_vfx import frames, report, samples
from shared.formats.samples import exr as exr_writer
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

REGION = "us-east-1"
OUTPUT = "vfx-output"


@pytest.fixture
def vfx(access_point: dict[str, Any]) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=OUTPUT)
    return {
        **access_point,
        "source": S3AccessPoint(access_point["arn"], s3),
        "output": S3AccessPoint(OUTPUT, s3),
        "frame_cfg": frames.FrameConfig(
            access_point=access_point["arn"], output_bucket=OUTPUT, use_case="media-vfx"
        ),
        "report_cfg": report.ReportConfig(
            access_point=access_point["arn"], output_bucket=OUTPUT, use_case="media-vfx"
        ),
    }


def _put(vfx: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    vfx["client"].put_object(Bucket=vfx["bucket"], Key=key, Body=body)
    head = vfx["client"].head_object(Bucket=vfx["bucket"], Key=key)
    return {"key": key, "etag": head["ETag"].strip('"'), "size": len(body)}


def _check(vfx: dict[str, Any], key: str, body: bytes) -> dict[str, Any]:
    return frames.check_frame(
        vfx["source"], vfx["output"], _put(vfx, key, body), run_id="r1", cfg=vfx["frame_cfg"]
    )


def test_a_frame_header_is_read_by_range_and_its_pixels_checked(vfx: dict[str, Any]) -> None:
    body = exr_writer.write(exr_writer.gradient(640, 360), pixel_type="FLOAT", compression="NONE")
    doc = _check(vfx, "shot/a.0001.exr", body)
    assert doc["status"] == "SUCCEEDED"
    assert doc["header"]["compression"] == "NONE" and doc["header"]["width"] == 640
    # The header costs one 4 KiB range of a 2.7 MB frame.
    assert doc["header_read"] == {"bytes": 4096, "requests": 1}
    assert doc["pixels"]["status"] == "CHECKED" and not doc["pixels"]["black"]
    assert doc["pixels"]["nan_count"] == 0 and 0.0 <= doc["pixels"]["min"] < doc["pixels"]["max"] <= 1.0
    stored = json.loads(vfx["output"].get_bytes(output_key("shot/a.0001.exr", doc["source"]["etag"])))
    assert stored["output_key"] == doc["output_key"]
    assert vfx["output"].get_bytes(doc["thumbnail_key"])[:3] == b"\xff\xd8\xff"


def test_black_and_nan_frames_are_measured(vfx: dict[str, Any]) -> None:
    planes = exr_writer.gradient(32, 16)
    black = exr_writer.write({k: np.zeros_like(v) for k, v in planes.items()}, compression="ZIP")
    planes["B"][2, 3] = np.nan
    planes["G"][0, 0] = -np.inf
    nan = exr_writer.write(planes, compression="ZIPS")
    assert _check(vfx, "s/b.0001.exr", black)["pixels"]["black"] is True
    pixels = _check(vfx, "s/b.0002.exr", nan)["pixels"]
    assert (pixels["nan_count"], pixels["inf_count"], pixels["black"]) == (1, 1, False)


def test_a_compression_not_decoded_is_not_checked_never_passed(vfx: dict[str, Any]) -> None:
    from tests.shared.formats.test_exr import PIZ_HALF_SCANLINE

    doc = _check(vfx, "s/piz.0001.exr", PIZ_HALF_SCANLINE)
    assert doc["status"] == "SUCCEEDED"
    assert doc["header"]["compression"] == "PIZ"
    assert doc["pixels"] == {"status": "NOT_CHECKED", "reason": "PIZ compression is not decoded"}
    assert "thumbnail_key" not in doc


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"GIF89a" + bytes(100),
            "unreadable EXR header: not an OpenEXR file: magic number 47494638 at byte 0",
        ),
        (exr_writer.write(exr_writer.gradient(64, 64))[:3000], "unreadable EXR pixel data: chunk"),
    ],
    ids=["not-exr", "truncated"],
)
def test_an_unreadable_frame_is_a_failed_result_naming_what_and_where(
    vfx: dict[str, Any], body: bytes, reason: str
) -> None:
    doc = _check(vfx, "s/bad.0001.exr", body)
    assert doc["status"] == "FAILED"
    assert doc["reason"].startswith(reason)
    assert doc["error"] in {"ExrError", "ExrTruncatedError"}


def test_dpx_frames_in_both_byte_orders_are_checked(vfx: dict[str, Any]) -> None:
    from shared.formats.samples import dpx as dpx_writer

    rgb = np.full((4, 6, 3), 0.5)
    for order in ("big", "little"):
        doc = _check(vfx, f"p/plate_{order}.0001.dpx", dpx_writer.write(rgb, byte_order=order))
        assert doc["header"]["byte_order"] == order
        assert doc["pixels"]["mean"] == pytest.approx(0.5, abs=1e-3)


def _seed_and_check(vfx: dict[str, Any]) -> list[str]:
    keys = []
    for sample in samples.plan():
        _check(vfx, sample.key, sample.body)
        keys.append(sample.key)
    return keys


def test_a_run_reports_each_sequence_with_every_defect_named(vfx: dict[str, Any]) -> None:
    keys = _seed_and_check(vfx)
    before = {o["Key"] for o in vfx["client"].list_objects_v2(Bucket=vfx["bucket"])["Contents"]}
    reports = {
        head.rsplit("/", 1)[-1]: report.report_sequence(
            vfx["source"], vfx["output"], head, ext, run_id="r1", cfg=vfx["report_cfg"]
        )
        for head, ext in report.touched_bases(keys)
    }
    comp, beauty, plate = reports["sh010_comp."], reports["sh020_beauty."], reports["sh030_plate."]
    assert comp["sequence"] == "shots/sh010/comp/v001/sh010_comp.####.exr" and comp["padding"] == 4
    assert comp["missing"] == [1005]
    assert [k.rsplit(".", 2)[1] for k in comp["black"]] == ["1003"]
    assert [k.rsplit(".", 2)[1] for k in comp["non_finite"]] == ["1007"]
    assert [k.rsplit(".", 2)[1] for k in comp["out_of_range"]] == ["1009"]
    assert [k.rsplit(".", 2)[1] for k in comp["unreadable"]] == ["1010"]
    assert sorted(k.rsplit(".", 2)[1] for k in comp["size_outliers"]) == ["1003", "1010"]
    assert comp["rerender_range"] == "1003,1005,1007,1009-1010"
    assert beauty["duplicates"] == {"4": [f"{samples.SH020}0004.exr", f"{samples.SH020}004.exr"]}
    assert list(beauty["header_mismatches"]) == [f"{samples.SH020}0006.exr"]
    assert plate["missing"] == [4] and plate["pixels_checked"] == 5
    for r in reports.values():
        prefix = f"sequences/{r['sequence'].replace('#', '%')}/{r['version']}/"
        assert r["report_key"] == prefix + "report.json"
        assert r["proxy"]["key"] == prefix + "proxy.jpg" and r["proxy"]["bytes"] < 5 * 1024 * 1024
        assert vfx["output"].get_bytes(r["contact_sheet"]["key"])[:3] == b"\xff\xd8\xff"
    after = {o["Key"] for o in vfx["client"].list_objects_v2(Bucket=vfx["bucket"])["Contents"]}
    assert after == before  # nothing written to the volume


def test_a_changed_frame_gives_the_sequence_a_new_version(vfx: dict[str, Any]) -> None:
    keys = _seed_and_check(vfx)
    head, ext = report.touched_bases(keys)[0]
    first = report.report_sequence(
        vfx["source"], vfx["output"], head, ext, run_id="r1", cfg=vfx["report_cfg"]
    )
    key, body = samples.good_frame(f"{head}####{ext}", 4, 4)
    _check(vfx, key, body)
    second = report.report_sequence(
        vfx["source"], vfx["output"], head, ext, run_id="r2", cfg=vfx["report_cfg"]
    )
    assert second["version"] != first["version"] and second["missing"] == []
    assert vfx["output"].get_bytes(first["report_key"])  # the earlier version stays


class _Rekognition:
    def __init__(self) -> None:
        self.images: list[dict[str, Any]] = []

    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.images.append(kwargs["Image"])
        return {"Labels": [{"Name": "Person", "Confidence": 91.234}]}

    def detect_moderation_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.images.append(kwargs["Image"])
        return {"ModerationLabels": []}


def test_rekognition_gets_the_jpeg_proxy_bytes_never_an_s3_object_or_exr(vfx: dict[str, Any]) -> None:
    keys = _seed_and_check(vfx)
    head, ext = next(b for b in report.touched_bases(keys) if b[1] == ".exr")
    client = _Rekognition()
    r = report.report_sequence(
        vfx["source"], vfx["output"], head, ext, run_id="r1", cfg=vfx["report_cfg"], rekognition=client
    )
    assert r["rekognition"] == {"labels": [{"name": "Person", "confidence": 91.2}], "moderation": []}
    assert len(client.images) == 2
    assert all(list(image) == ["Bytes"] and image["Bytes"][:3] == b"\xff\xd8\xff" for image in client.images)
    assert "quality" not in json.dumps(r["rekognition"])


def test_the_render_request_lists_each_sequence_within_the_budget() -> None:
    reports = [
        {"sequence": "a.####.exr", "version": "v1", "padding": 4, "rerender_frames": [1, 2, 3, 9]},
        {"sequence": "b.####.exr", "version": "v2", "padding": 4, "rerender_frames": [5, 6]},
        {"sequence": "c.####.exr", "version": "v3", "padding": 4, "rerender_frames": []},
    ]
    request = report.render_request(reports, limit=5)
    assert [(e["sequence"], e["range"]) for e in request] == [("a.####.exr", "1-3,9"), ("b.####.exr", "5")]
