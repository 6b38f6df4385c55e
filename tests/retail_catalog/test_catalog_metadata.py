"""The catalog metadata state: Bedrock Converse over the labels, pass-through of failed items."""

from __future__ import annotations

from typing import Any

import pytest

from retail_catalog.contract import CATALOG_METADATA
from tests.handlers import load_handler

ITEM = {
    "key": "products/shoes/sneaker-001.jpg",
    "etag": "e1",
    "size": 10,
    "last_modified": "2026-01-01T00:00:00+00:00",
    "run_id": "run-1",
}
TAGGING = {
    "labels": [{"name": "Shoe", "confidence": 97.0, "parents": [], "categories": []}],
    "format": "JPEG",
}


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch, bedrock: Any) -> Any:
    monkeypatch.setenv("BEDROCK_MODEL_ID", "amazon.nova-lite-v1:0")
    monkeypatch.setattr("retail_catalog.metadata.bedrock_client", lambda: bedrock)
    return load_handler("retail-catalog/functions/catalog_metadata/handler.py")


def test_a_catalog_entry_is_added_to_a_tagged_item(metadata: Any, bedrock: Any) -> None:
    result = metadata.handler({**ITEM, "status": "SUCCEEDED", "tagging": TAGGING}, None)
    assert result["status"] == "SUCCEEDED"
    assert result["metadata"]["title"] == "Red running sneaker"
    assert result["metadata"]["keywords"] == ["sneaker", "running"]
    assert result["tagging"] == TAGGING
    assert bedrock.requests[0]["modelId"] == "amazon.nova-lite-v1:0"
    assert "- Shoe (97%)" in bedrock.requests[0]["messages"][0]["content"][0]["text"]
    assert set(result) >= set(CATALOG_METADATA.produces) | set(CATALOG_METADATA.produces_on_success)


def test_a_failed_item_passes_through_without_a_model_call(metadata: Any, bedrock: Any) -> None:
    event = {**ITEM, "status": "FAILED", "reason": "not a readable image", "error": "ImageRejectedError"}
    result = metadata.handler(event, None)
    assert result == event
    assert bedrock.requests == []


def test_an_unusable_answer_fails_the_item_with_the_reason(metadata: Any, bedrock: Any) -> None:
    bedrock.text = "I cannot help with that."
    result = metadata.handler({**ITEM, "status": "SUCCEEDED", "tagging": TAGGING}, None)
    assert result["status"] == "FAILED" and "no JSON object" in result["reason"]
    assert result["tagging"] == TAGGING and set(result) >= set(CATALOG_METADATA.produces)


def test_a_succeeded_item_without_labels_is_a_contract_breach(metadata: Any) -> None:
    with pytest.raises(ValueError, match=r"tagging\.labels"):
        metadata.handler({**ITEM, "status": "SUCCEEDED"}, None)
