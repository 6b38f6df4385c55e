"""Catalog metadata (title, description, category, keywords, attributes) from Amazon Bedrock.

The model sees the detected labels and the file's folder path, not the pixels: labels are already
paid for, and a text-only prompt costs a fraction of an image prompt. The Converse API is used so
that any text model can be chosen by its model id without code changes. The answer must be one
JSON object; anything else is a per-file failure with the reason, never a guessed record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from retail_catalog.errors import ImageRejectedError
from retail_catalog.tagging import Label
from shared.clients import aws_client
from shared.observability import xray_subsegment
from shared.polling.aws import call

logger = logging.getLogger(__name__)

MAX_TOKENS = 600
MAX_TITLE = 150
MAX_DESCRIPTION = 1_000
MAX_KEYWORDS = 15
MAX_ATTRIBUTES = 20

SYSTEM_PROMPT = (
    "You write product catalog entries for a retail store. Answer with exactly one JSON object and "
    'nothing else, with these fields: "title" (string, at most 150 characters), "description" '
    '(string, at most 1000 characters), "category" (string), "keywords" (array of at most 15 '
    'strings), "attributes" (object of string values, e.g. color or material). Use only the facts '
    "given; do not invent brand names or prices."
)
# Content the model refused or cut short is not a usable catalog entry.
PER_ITEM_STOP_REASONS = frozenset({"max_tokens", "guardrail_intervened", "content_filtered"})


@dataclass(frozen=True)
class CatalogMetadata:
    title: str
    description: str
    category: str
    keywords: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    model_id: str = ""
    input_tokens: int = 0
    output_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "keywords": list(self.keywords),
            "attributes": dict(self.attributes),
            "model_id": self.model_id,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
        }


def bedrock_client() -> Any:
    return aws_client("bedrock-runtime")


def build_prompt(key: str, labels: Sequence[Label]) -> str:
    """The user message: the product's folder path, file name, and labels with confidences."""
    path = PurePosixPath(key)
    folders = " / ".join(path.parts[:-1]) or "(none)"
    lines = [f"- {label.name} ({label.confidence:.0f}%)" for label in labels] or ["- (no labels detected)"]
    return (
        f"Folder path: {folders}\nFile name: {path.name}\nDetected labels:\n"
        + "\n".join(lines)
        + "\nWrite the catalog entry as JSON."
    )


def _extract_json(text: str) -> dict[str, Any]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ImageRejectedError("the model's answer contains no JSON object", answer=text[:200])
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError as error:
        raise ImageRejectedError(
            f"the model's answer is not valid JSON: {error}", answer=text[:200]
        ) from error
    if not isinstance(value, dict):
        raise ImageRejectedError("the model's answer is not a JSON object", answer=text[:200])
    return value


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ImageRejectedError(f"the model's answer lacks a non-empty string {name!r}")
    return value.strip()[:limit]


def parse_metadata(text: str, *, model_id: str = "", usage: dict[str, Any] | None = None) -> CatalogMetadata:
    """Validate the model's JSON answer and normalize it (trim, cap lengths, stringify values)."""
    raw = _extract_json(text)
    keywords_raw = raw.get("keywords", [])
    if not isinstance(keywords_raw, list):
        raise ImageRejectedError("'keywords' in the model's answer is not a list")
    attributes_raw = raw.get("attributes", {})
    if not isinstance(attributes_raw, dict):
        raise ImageRejectedError("'attributes' in the model's answer is not an object")
    keywords = tuple(dict.fromkeys(str(k).strip() for k in keywords_raw if str(k).strip()))[:MAX_KEYWORDS]
    attributes = {
        str(k).strip()[:64]: str(v).strip()[:256]
        for k, v in list(attributes_raw.items())[:MAX_ATTRIBUTES]
        if str(k).strip() and v is not None
    }
    usage = usage or {}
    return CatalogMetadata(
        title=_text(raw.get("title"), "title", MAX_TITLE),
        description=_text(raw.get("description"), "description", MAX_DESCRIPTION),
        category=_text(raw.get("category"), "category", 200),
        keywords=keywords,
        attributes=attributes,
        model_id=model_id,
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
    )


def generate_metadata(
    key: str,
    labels: Sequence[Label],
    *,
    model_id: str,
    bedrock: Any | None = None,
) -> CatalogMetadata:
    """Ask the model for one catalog entry. Deterministic settings (temperature 0).

    Raises :class:`ImageRejectedError` for an unusable answer and
    :class:`~retail_catalog.errors.TransientServiceError` when Bedrock throttles.
    """
    if not model_id:
        raise ValueError("a Bedrock model id is required")
    client = bedrock or bedrock_client()
    with xray_subsegment("bedrock_converse", {"model_id": model_id}):
        response = call(
            "bedrock-runtime",
            "Converse",
            client.converse,
            modelId=model_id,
            system=[{"text": SYSTEM_PROMPT}],
            messages=[{"role": "user", "content": [{"text": build_prompt(key, labels)}]}],
            inferenceConfig={"maxTokens": MAX_TOKENS, "temperature": 0.0},
        )
    stop = str(response.get("stopReason", ""))
    if stop in PER_ITEM_STOP_REASONS:
        raise ImageRejectedError(
            f"the model stopped with {stop!r}; no usable catalog entry", stop_reason=stop
        )
    content = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return parse_metadata(text, model_id=model_id, usage=response.get("usage"))


def labels_from_dicts(items: Sequence[dict[str, Any]]) -> list[Label]:
    """Rebuild labels from their JSON form (the payload between Step Functions states)."""
    return [
        Label(
            name=str(item["name"]),
            confidence=float(item["confidence"]),
            parents=tuple(item.get("parents", ())),
            categories=tuple(item.get("categories", ())),
        )
        for item in items
    ]
