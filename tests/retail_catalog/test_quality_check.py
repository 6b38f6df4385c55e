"""The quality check state: Pillow checks and the result document under the full-key-derived key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from retail_catalog.contract import QUALITY_CHECK
from shared.formats.samples.images import DEFAULT_SPECS, render
from shared.polling.keys import output_key
from tests.handlers import load_handler


@pytest.fixture
def quality(monkeypatch: pytest.MonkeyPatch, buckets: dict[str, Any]) -> Any:
    monkeypatch.setenv("ACCESS_POINT", buckets["source"])
    monkeypatch.setenv("OUTPUT_BUCKET", buckets["output"])
    return load_handler("retail-catalog/functions/quality_check/handler.py")


# What the tagging and metadata states hand on for a file they handled.
UPSTREAM: dict[str, Any] = {"status": "SUCCEEDED", "tagging": {"labels": []}, "metadata": {"title": "t"}}


def _read(buckets: dict[str, Any], key: str) -> dict[str, Any]:
    return dict(json.loads(buckets["client"].get_object(Bucket=buckets["output"], Key=key)["Body"].read()))


@pytest.mark.parametrize("spec", [s for s in DEFAULT_SPECS if s.defect != "not_image"], ids=lambda s: s.key)
def test_every_sample_gets_a_result_with_its_planted_issues(
    quality: Any, buckets: dict[str, Any], spec: Any, listed_file: Any
) -> None:
    result = quality.handler(listed_file(spec.key, **UPSTREAM), None)
    assert result["status"] == "SUCCEEDED"
    assert result["output_key"] == output_key(spec.key, buckets["etags"][spec.key])
    assert result["quality_passed"] is (spec.defect is None)
    document = _read(buckets, result["output_key"])
    assert sorted(i["code"] for i in document["quality"]["issues"]) == sorted(spec.expected_issues)
    assert document["metadata"] == {"title": "t"} and document["status"] == "SUCCEEDED"
    assert set(result) >= set(QUALITY_CHECK.produces)


def test_a_failed_item_is_recorded_with_its_reason(
    quality: Any, buckets: dict[str, Any], listed_file: Any
) -> None:
    key = "incoming/unsorted/readme-011.jpg"
    event = listed_file(key, **{**UPSTREAM, "status": "FAILED", "reason": "not a readable image"})
    event.pop("metadata")
    result = quality.handler(event, None)
    assert result["status"] == "FAILED" and result["reason"] == "not a readable image"
    document = _read(buckets, result["output_key"])
    assert document["status"] == "FAILED" and document["reason"] == "not a readable image"
    assert "quality" not in document


def test_an_item_whose_file_vanished_is_recorded_as_failed(
    quality: Any, buckets: dict[str, Any], listed_file: Any
) -> None:
    key = "products/home/lamp-006.png"
    buckets["client"].delete_object(Bucket=buckets["source"], Key=key)
    result = quality.handler(listed_file(key, **UPSTREAM), None)
    assert result["status"] == "FAILED" and "no longer exists" in result["reason"]


def test_results_of_same_named_files_do_not_overwrite_each_other(
    quality: Any, buckets: dict[str, Any], listed_file: Any
) -> None:
    keys = ["products/shoes/sneaker-001.jpg", "products/bags/sneaker-001.jpg"]
    outputs = [quality.handler(listed_file(k, **UPSTREAM), None)["output_key"] for k in keys]
    assert len(set(outputs)) == 2
    assert [_read(buckets, o)["source"]["key"] for o in outputs] == keys


def test_a_png_key_holding_jpeg_bytes_is_reported_in_the_result(
    quality: Any, buckets: dict[str, Any], listed_file: Any
) -> None:
    jpeg = next(s for s in DEFAULT_SPECS if s.format == "JPEG" and s.defect is None)
    key = "incoming/renamed/photo.png"
    etag = buckets["client"].put_object(Bucket=buckets["source"], Key=key, Body=render(jpeg))["ETag"]
    buckets["etags"][key] = etag.strip('"')
    result = quality.handler(listed_file(key, **UPSTREAM), None)
    assert result["status"] == "SUCCEEDED" and result["quality_passed"] is False
    issues = _read(buckets, result["output_key"])["quality"]["issues"]
    assert [i["code"] for i in issues] == ["extension_mismatch"]
    assert "JPEG" in issues[0]["message"] and ".png" in issues[0]["message"]
