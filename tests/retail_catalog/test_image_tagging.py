"""The image tagging state: Rekognition labels for one listed file version."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from retail_catalog import TransientServiceError
from retail_catalog.contract import IMAGE_TAGGING
from shared.polling.contract import ContractError
from tests.handlers import load_handler


@pytest.fixture
def tagging(monkeypatch: pytest.MonkeyPatch, buckets: dict[str, Any], rekognition: Any) -> Any:
    monkeypatch.setenv("ACCESS_POINT", buckets["source"])
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "80")
    monkeypatch.setattr("retail_catalog.tagging.rekognition_client", lambda: rekognition)
    return load_handler("retail-catalog/functions/image_tagging/handler.py")


def test_labels_above_the_threshold_are_returned_with_the_file_fields(
    tagging: Any, rekognition: Any, listed_file: Any
) -> None:
    event = listed_file("products/apparel/shirt-004.webp")
    result = tagging.handler(event, None)
    assert result["status"] == "SUCCEEDED"
    assert {k: result[k] for k in ("key", "etag", "size", "last_modified", "run_id")} == event
    assert [label["name"] for label in result["tagging"]["labels"]] == ["Shoe", "Sneaker"]
    assert result["tagging"]["converted_for_tagging"] is True
    assert rekognition.requests[0]["MinConfidence"] == 80.0
    assert set(result) >= set(IMAGE_TAGGING.produces) | set(IMAGE_TAGGING.produces_on_success)


def test_a_file_that_is_not_an_image_is_a_failed_item(tagging: Any, listed_file: Any) -> None:
    result = tagging.handler(listed_file("incoming/unsorted/readme-011.jpg"), None)
    assert result["status"] == "FAILED" and result["reason"].startswith("not a readable image")
    assert "tagging" not in result and set(result) >= set(IMAGE_TAGGING.produces)


def test_a_changed_file_is_a_failed_item(tagging: Any, listed_file: Any) -> None:
    event = {**listed_file("products/shoes/boot-002.jpg"), "etag": "stale"}
    assert tagging.handler(event, None)["status"] == "FAILED"


def test_throttling_raises_for_the_state_retry(tagging: Any, rekognition: Any, listed_file: Any) -> None:
    rekognition.error = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "DetectLabels"
    )
    with pytest.raises(TransientServiceError):
        tagging.handler(listed_file("products/shoes/boot-002.jpg"), None)


def test_missing_input_keys_fail_loudly(tagging: Any) -> None:
    with pytest.raises(ContractError, match="etag"):
        tagging.handler({"key": "a.jpg", "run_id": "r", "size": 1, "last_modified": "x"}, None)
