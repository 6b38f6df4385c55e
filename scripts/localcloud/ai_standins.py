"""Deterministic local stand-ins for AI services that moto lacks or answers with canned data.

These are NOT models. They exist so a use case's pipeline can run end to end on the embedded cloud
and so tests can tell two inputs apart: every answer is derived from the request (the image bytes,
the prompt text), the same input always gives the same answer, and different inputs give
different answers. They plug in through botocore's ``before-call`` event, which lets a handler
return the parsed response instead of sending the request, so the function code is unchanged.

Stand-ins:

* ``rekognition.DetectLabels``: labels and confidences chosen by the SHA-256 of the image bytes
  (inline ``Image.Bytes`` or ``Image.S3Object``); honours MaxLabels and MinConfidence.
* ``bedrock-runtime.Converse``: when the prompt asks for a JSON answer, a JSON object with the
  fields it asks for, whether it shows a JSON example (``"title": "..."``) or names them in prose
  (``"title" (string, ...)``); values come from the words of the user message and the prompt's
  hash. Otherwise a few sentences restating the facts the prompt embeds (or its main words).
  Usage counts are word counts. A prompt that embeds a JSON Schema gets an answer valid against it
  (``scripts/localcloud/structured.py``, with markers for invalid answers on demand).
* ``comprehendmedical.DetectEntitiesV2`` / ``DetectPHI``: entities found by a small vocabulary and
  regular expressions, with real offsets into the text.
* ``textract.DetectDocumentText``: one LINE block (with WORD children) per text line of the
  document bytes when they decode as UTF-8, else lines derived from the hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse

from scripts.localcloud import hooks, structured

logger = logging.getLogger(__name__)

STAND_IN_NOTE = "local stand-in (deterministic, derived from the input); not a model"

_LABELS = (
    "Apparel",
    "Shoe",
    "Handbag",
    "Watch",
    "Jewelry",
    "Furniture",
    "Lamp",
    "Bottle",
    "Electronics",
    "Toy",
    "Book",
    "Cosmetics",
    "Kitchenware",
    "Sports Equipment",
    "Food",
    "Plant",
    "Person",
    "Car",
    "Road",
    "Pedestrian",
    "Traffic Light",
    "Building",
    "Text",
    "Outdoors",
)
_PARENTS = {
    "Shoe": "Apparel",
    "Handbag": "Apparel",
    "Watch": "Jewelry",
    "Car": "Vehicle",
    "Pedestrian": "Person",
    "Lamp": "Furniture",
}
_COLORS = ("black", "white", "red", "blue", "green", "brown", "grey", "beige")
_MATERIALS = ("cotton", "leather", "wool", "steel", "wood", "ceramic", "plastic", "glass")
_CATEGORIES = ("electronics", "apparel", "home", "beauty", "sports", "toys", "grocery", "books")
_MEDICAL = {
    "MEDICATION": ("aspirin", "ibuprofen", "metformin", "lisinopril", "amoxicillin", "insulin"),
    "MEDICAL_CONDITION": ("diabetes", "hypertension", "pneumonia", "fracture", "asthma", "fever"),
    "ANATOMY": ("chest", "lung", "heart", "knee", "abdomen", "wrist"),
    "TEST_TREATMENT_PROCEDURE": ("x-ray", "mri", "ct scan", "blood test", "biopsy"),
}
_MEDICAL_TYPES = {
    "MEDICATION": "GENERIC_NAME",
    "MEDICAL_CONDITION": "DX_NAME",
    "ANATOMY": "SYSTEM_ORGAN_SITE",
    "TEST_TREATMENT_PROCEDURE": "PROCEDURE_NAME",
}
_PHI = {
    "DATE": re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"),
    "PHONE_OR_FAX": re.compile(r"\b\d{3}[-.]\d{3}[-.]\d{4}\b"),
    "ID": re.compile(r"\b(?:MRN|ID)[:# ]*\d{4,}\b", re.IGNORECASE),
    "EMAIL": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"),
}
_WORD = re.compile(r"[A-Za-z]{3,}(?:-[A-Za-z]+)*")
_STOP_WORDS = (
    "the and for with that this from are was were you your has have not but all any can json return "
    "only key keys value values into about which their them they will folder path file name detected "
    "write entry none jpg jpeg png webp labels catalog products"
)
_STOP = frozenset(_STOP_WORDS.split(" "))


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def detect_labels(image: bytes, max_labels: int = 10, min_confidence: float = 55.0) -> dict[str, Any]:
    """Labels chosen by the image hash; the confidence of each also comes from the hash."""
    digest = _digest(image)
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index in range(0, len(digest), 2):
        name = _LABELS[digest[index] % len(_LABELS)]
        if name in seen:
            continue
        seen.add(name)
        confidence = round(50.0 + (digest[index + 1] / 255.0) * 49.9, 3)
        if confidence < min_confidence:
            continue
        parent = _PARENTS.get(name)
        chosen.append(
            {
                "Name": name,
                "Confidence": confidence,
                "Instances": [],
                "Parents": [{"Name": parent}] if parent else [],
                "Aliases": [],
                "Categories": [],
            }
        )
    chosen.sort(key=lambda label: -label["Confidence"])
    return {"Labels": chosen[:max_labels], "LabelModelVersion": "3.0"}


def _prompt_text(params: dict[str, Any]) -> tuple[str, str]:
    """(system text, user text) of a Converse request."""
    system = "\n".join(block.get("text", "") for block in params.get("system", []) or [])
    user = "\n".join(
        block.get("text", "")
        for message in params.get("messages", [])
        if message.get("role", "user") == "user"
        for block in message.get("content", [])
        if "text" in block
    )
    return system, user


# A field the prompt asks for: "name": ... (a JSON example) or "name" (type, ...) (prose).
_FIELD = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*(?::\s*(\S)|\((\w+))')


def requested_fields(prompt: str) -> dict[str, str]:
    """Field name -> kind ("string", "array", "object", "number", "boolean") the prompt asks for."""
    fields: dict[str, str] = {}
    for name, example, prose in _FIELD.findall(prompt):
        if prose:
            kind = prose.lower()
        else:
            kind = {"[": "array", "{": "object", '"': "string", "t": "boolean", "f": "boolean"}.get(
                example, ""
            )
            kind = kind or ("number" if example[:1].isdigit() or example[:1] == "-" else "string")
        fields.setdefault(name, "array" if kind in {"list", "array"} else kind)
    return fields


def _value(key: str, kind: str, words: list[str], keywords: list[str], digest: bytes, index: int) -> Any:
    lowered = key.lower()
    byte = digest[(index + 1) % len(digest)]
    if kind in {"number", "integer", "float"} or any(
        t in lowered for t in ("score", "confidence", "probability")
    ):
        if kind == "integer" or any(t in lowered for t in ("count", "number", "quantity")):
            return byte % 10
        return round(0.5 + byte / 510.0, 3)
    if kind == "boolean" or lowered.startswith(("is_", "has_")):
        return bool(byte % 2)
    if kind == "array" or any(t in lowered for t in ("keywords", "tags", "labels", "items")):
        return keywords
    if kind == "object":
        return {
            "color": _COLORS[byte % len(_COLORS)],
            "material": _MATERIALS[digest[index % len(digest)] % len(_MATERIALS)],
        }
    if "category" in lowered or "class" in lowered or lowered == "type":
        return keywords[0] if keywords else _CATEGORIES[digest[0] % len(_CATEGORIES)]
    if "title" in lowered or "name" in lowered:
        return " ".join(w.capitalize() for w in keywords[:3]) or f"Item {digest.hex()[:6]}"
    if "description" in lowered or "summary" in lowered:
        return f"{' '.join(words[:20]).capitalize()}." if words else f"Item {digest.hex()[:6]}."
    return " ".join(words[:8]) or f"{key} {digest.hex()[:8]}"


_WANTS_JSON = re.compile(r"\b(answer|reply|respond|return|output|write)\b[^.]{0,80}\bJSON\b", re.IGNORECASE)


def _facts(text: str) -> list[str]:
    """``path value`` for the scalar leaves of the first JSON object embedded in ``text``."""
    start = text.find("{")
    if start < 0:
        return []
    try:
        document, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return []
    leaves: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path} {key}".strip())
        elif isinstance(node, list):
            leaves.append(f"{path} {len(node)} item(s)")
        else:
            leaves.append(f"{path} {node}")

    walk(document, "")
    return leaves


def _prose(user: str, words: list[str]) -> str:
    """A short plain-text answer: the facts the prompt gave, or its main words."""
    facts = _facts(user)
    if facts:
        sentences = ["; ".join(facts[i : i + 4]) for i in range(0, min(len(facts), 16), 4)]
        return "Local stand-in summary of the facts given. " + ". ".join(sentences) + "."
    return "Local stand-in answer about " + ", ".join(words[:8]) + "."


def converse(params: dict[str, Any]) -> dict[str, Any]:
    """A reply in the shape the prompt asks for: a JSON object with its fields, or a few sentences."""
    system, user = _prompt_text(params)
    prompt = f"{system}\n{user}"
    digest = _digest(prompt.encode())
    words = [w.lower() for w in _WORD.findall(user or system) if w.lower() not in _STOP]
    keywords = [w for w, _ in Counter(words).most_common(5)]
    schema_text = structured.schema_reply(params, system, user)  # a prompt embedding a JSON Schema
    if schema_text is not None:
        text = schema_text
    elif _WANTS_JSON.search(prompt):
        fields = requested_fields(prompt) or {"summary": "string", "keywords": "array", "category": "string"}
        reply = {
            key: _value(key, kind, words, keywords, digest, index)
            for index, (key, kind) in enumerate(fields.items())
        }
        text = json.dumps(reply)
    else:
        text = _prose(user or system, words)
    input_tokens = max(1, len(prompt.split()))
    output_tokens = max(1, len(text.split()))
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 1},
    }


def _entity(index: int, start: int, text: str, category: str, kind: str, score: float) -> dict[str, Any]:
    return {
        "Id": index,
        "BeginOffset": start,
        "EndOffset": start + len(text),
        "Score": score,
        "Text": text,
        "Category": category,
        "Type": kind,
        "Traits": [],
        "Attributes": [],
    }


def detect_entities_v2(text: str) -> dict[str, Any]:
    """Medical entities from a small vocabulary, with offsets into ``text``."""
    lowered = text.lower()
    entities = []
    for category, terms in _MEDICAL.items():
        for term in terms:
            for match in re.finditer(rf"\b{re.escape(term)}\b", lowered):
                kind = _MEDICAL_TYPES[category]
                score = round(0.8 + _digest(term.encode())[0] / 1275.0, 4)
                entities.append((match.start(), category, kind, text[match.start() : match.end()], score))
    entities.sort()
    return {
        "Entities": [_entity(i, s, t, c, k, sc) for i, (s, c, k, t, sc) in enumerate(entities)],
        "UnmappedAttributes": [],
        "ModelVersion": "local-standin",
    }


def detect_phi(text: str) -> dict[str, Any]:
    found = []
    for kind, pattern in _PHI.items():
        for match in pattern.finditer(text):
            found.append((match.start(), kind, match.group(0)))
    found.sort()
    return {
        "Entities": [
            _entity(i, s, t, "PROTECTED_HEALTH_INFORMATION", k, 0.99) for i, (s, k, t) in enumerate(found)
        ],
        "ModelVersion": "local-standin",
    }


def detect_document_text(document: bytes) -> dict[str, Any]:
    try:
        lines = [line.strip() for line in document.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        digest = _digest(document).hex()
        lines = [f"DOCUMENT {digest[:8].upper()}", f"REF {digest[8:16].upper()}"]
    blocks: list[dict[str, Any]] = [{"BlockType": "PAGE", "Id": str(uuid.UUID(int=0)), "Page": 1}]
    for number, line in enumerate(lines[:200]):
        line_id = str(uuid.UUID(int=number + 1))
        words = line.split()
        word_ids = [str(uuid.UUID(int=(number + 1) * 1000 + i)) for i in range(len(words))]
        blocks.append(
            {
                "BlockType": "LINE",
                "Id": line_id,
                "Text": line,
                "Confidence": 99.0,
                "Page": 1,
                "Relationships": [{"Type": "CHILD", "Ids": word_ids}],
            }
        )
        blocks.extend(
            {"BlockType": "WORD", "Id": wid, "Text": word, "Confidence": 99.0, "Page": 1}
            for wid, word in zip(word_ids, words, strict=True)
        )
    return {
        "DocumentMetadata": {"Pages": 1},
        "Blocks": blocks,
        "DetectDocumentTextModelVersion": "local-standin",
    }


# -- wiring ----------------------------------------------------------------------------------------

_PARAMS_KEY = "localcloud_api_params"


def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS_KEY] = params


class AIStandIns:
    """Registers the stand-ins on every botocore session created while installed."""

    def __init__(self, read_s3: Callable[[str, str], bytes]) -> None:
        self.read_s3 = read_s3
        self.calls: Counter[str] = Counter()
        self._handlers: list[tuple[str, Callable[..., Any]]] = []

    def _image_bytes(self, source: dict[str, Any]) -> bytes:
        if "Bytes" in source:
            return bytes(source["Bytes"])
        s3 = source["S3Object"]
        return self.read_s3(s3["Bucket"], s3["Name"])

    def _answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "rekognition.DetectLabels":
            return detect_labels(
                self._image_bytes(params["Image"]),
                int(params.get("MaxLabels", 10)),
                float(params.get("MinConfidence", 55.0)),
            )
        if operation == "bedrock-runtime.Converse":
            return converse(params)
        if operation == "comprehendmedical.DetectEntitiesV2":
            return detect_entities_v2(params["Text"])
        if operation == "comprehendmedical.DetectPHI":
            return detect_phi(params["Text"])
        if operation == "textract.DetectDocumentText":
            return detect_document_text(self._image_bytes(params["Document"]))
        raise KeyError(operation)

    def _make_handler(self, operation: str) -> Callable[..., Any]:
        def before_call(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            self.calls[operation] += 1
            parsed = self._answer(operation, context.get(_PARAMS_KEY, {}))
            parsed["ResponseMetadata"] = {
                "HTTPStatusCode": 200,
                "RequestId": str(uuid.uuid4()),
                "HTTPHeaders": {"x-local-stand-in": STAND_IN_NOTE},
            }
            return AWSResponse("https://local.stand-in", 200, {}, None), parsed

        return before_call

    OPERATIONS = (
        "rekognition.DetectLabels",
        "bedrock-runtime.Converse",
        "comprehendmedical.DetectEntitiesV2",
        "comprehendmedical.DetectPHI",
        "textract.DetectDocumentText",
    )

    def install(self) -> None:
        self._handlers.extend(hooks.hooks_for("", self.OPERATIONS, _stash_params, self._make_handler))
        hooks.install(self._handlers)

    def uninstall(self) -> None:
        hooks.uninstall(self._handlers)
