"""Structured extraction with Bedrock Converse: a JSON schema per document type, validated answers.

A :class:`DocumentSchema` names a document type and holds its JSON Schema (Draft 2020-12, checked
when the schema is built). :class:`StructuredExtractor` asks the model, through the Converse API
(one request shape for every model family), for a JSON object that follows the schema, then:

1. parses the reply (a bare object, or one inside a fenced code block);
2. validates it with ``jsonschema``; on invalid output it retries ONCE, sending the model its
   previous answer and the validation errors;
3. if the second answer is still invalid, raises :class:`ExtractionError`, a
   :class:`~shared.polling.errors.FileRejectedError` whose ``reason`` names the schema and the first
   errors: the caller turns it into a FAILED result (``shared.errors.error_result``). Nothing
   invalid is ever returned as if it were data.

The model id is a parameter: a foundation-model id (``amazon.nova-lite-v1:0``), an
inference-profile id (``us.amazon.nova-lite-v1:0``, ``eu.…``, ``apac.…``, ``global.…``) or an ARN of
either; Converse takes all of them as ``modelId``. IAM must match what is passed
(:func:`bedrock_resource_arns` lists the ARNs, ``docs/language.md`` shows the template form):

* a foundation model: ``bedrock:InvokeModel`` on
  ``arn:${Partition}:bedrock:${Region}::foundation-model/<model id>``;
* an inference profile: ``bedrock:InvokeModel`` on the profile,
  ``arn:${Partition}:bedrock:${Region}:${AccountId}:inference-profile/<profile id>``, AND on the
  underlying foundation model in every region the profile routes to
  (``arn:${Partition}:bedrock:*::foundation-model/<model id>``, or each destination region listed).

Throttling and 5xx raise :class:`~shared.polling.errors.TransientServiceError`
(``shared.polling.aws.call``); an access or model-id error propagates (a deployment problem).

    invoice = DocumentSchema("invoice", {"type": "object", "properties": {...}, "required": [...]})
    extraction = StructuredExtractor(model_id).extract(invoice, text)   # or raises ExtractionError
    extraction.data, extraction.attempts, extraction.usage
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from shared.clients import LazyClient
from shared.polling import aws
from shared.polling.errors import FileRejectedError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # the first answer and one retry with the validation errors
DEFAULT_MAX_TEXT_CHARS = 60_000
DEFAULT_MAX_TOKENS = 2048
INFERENCE_PROFILE_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global.")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


class ExtractionError(FileRejectedError):
    """The model's answer did not follow the document type's schema, even after one retry."""


class SchemaDefinitionError(ValueError):
    """A document type's schema is not a valid JSON Schema (a programming error, not a file's)."""


@dataclass(frozen=True)
class DocumentSchema:
    """A document type: its name, its JSON Schema and optional extra instructions for the model."""

    name: str
    schema: dict[str, Any]
    instructions: str = ""

    def __post_init__(self) -> None:
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
        from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

        try:
            Draft202012Validator.check_schema(self.schema)
        except SchemaError as error:
            raise SchemaDefinitionError(f"schema of {self.name!r} is invalid: {error.message}") from error
        if self.schema.get("type") != "object":
            raise SchemaDefinitionError(f"schema of {self.name!r} must describe an object")

    def errors(self, data: Any) -> list[str]:
        """Every validation error of ``data``, as ``<json pointer>: <message>``, in document order."""
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        found = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
        return [f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in found]


@dataclass
class Extraction:
    """A validated answer: ``data`` follows the schema; ``attempts`` is 1 or 2."""

    document_type: str
    data: dict[str, Any]
    model_id: str
    attempts: int
    usage: dict[str, int] = field(default_factory=dict)
    retried_for: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_type": self.document_type,
            "data": self.data,
            "model_id": self.model_id,
            "attempts": self.attempts,
            "usage": dict(self.usage),
            "retried_for": list(self.retried_for),
        }


def is_inference_profile(model_id: str) -> bool:
    """True for an inference-profile id or ARN (cross-region or application profile)."""
    if model_id.startswith("arn:"):
        return ":inference-profile/" in model_id or ":application-inference-profile/" in model_id
    return model_id.startswith(INFERENCE_PROFILE_PREFIXES)


def foundation_model_of(profile_id: str) -> str:
    """The foundation-model id behind a system-defined cross-region profile id (``us.x`` -> ``x``)."""
    name = profile_id.rsplit("/", 1)[-1]
    for prefix in INFERENCE_PROFILE_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def bedrock_resource_arns(
    model_id: str,
    *,
    region: str,
    account_id: str,
    partition: str = "aws",
    destination_regions: tuple[str, ...] = (),
) -> list[str]:
    """The resources ``bedrock:InvokeModel`` must allow for ``model_id`` (see the module docstring).

    For a cross-region profile, the foundation model is allowed in each of ``destination_regions``,
    or in every region (``*``) when none are given. An application profile's underlying models
    cannot be read from its id: list them separately.
    """
    if model_id.startswith("arn:"):
        if not is_inference_profile(model_id):
            return [model_id]
        arns = [model_id]
        if ":application-inference-profile/" in model_id:
            return arns
    elif not is_inference_profile(model_id):
        return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"]
    else:
        arns = [f"arn:{partition}:bedrock:{region}:{account_id}:inference-profile/{model_id}"]
    model = foundation_model_of(model_id)
    for destination in destination_regions or ("*",):
        arns.append(f"arn:{partition}:bedrock:{destination}::foundation-model/{model}")
    return arns


def parse_json_reply(text: str) -> Any:
    """The JSON value in a model reply: the whole text, a fenced block, or the first ``{...}``."""
    candidates = [text.strip()]
    candidates.extend(match.strip() for match in _FENCE.findall(text))
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    start = text.find("{")
    if start >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
            return value
        except json.JSONDecodeError as error:
            where = start + error.pos
            raise ValueError(f"the reply is not valid JSON: {error.msg} at char {where}") from error
    raise ValueError("the reply holds no JSON object")


def system_prompt(document: DocumentSchema) -> str:
    return (
        "You extract structured data from documents. Return only a JSON object that validates "
        f"against the JSON Schema of a {document.name!r} document below: no prose, no code fence. "
        "Use null (where the schema allows it) or leave an optional field out when the document "
        "does not say; never invent values.\n"
        f"JSON Schema:\n{json.dumps(document.schema, indent=1, sort_keys=True)}"
    )


def user_prompt(document: DocumentSchema, text: str) -> str:
    extra = f"\n{document.instructions.strip()}" if document.instructions.strip() else ""
    return f"Document type: {document.name}.{extra}\n\nDocument text:\n<document>\n{text}\n</document>"


def retry_prompt(errors: list[str]) -> str:
    listed = "\n".join(f"- {error}" for error in errors[:20])
    return (
        "Your answer did not validate against the JSON Schema:\n"
        f"{listed}\n"
        "Return only the corrected JSON object."
    )


def _reply_text(response: dict[str, Any]) -> str:
    content = response.get("output", {}).get("message", {}).get("content", [])
    return "".join(block.get("text", "") for block in content if "text" in block)


class StructuredExtractor:
    """Converse + schema validation + one retry (see the module docstring)."""

    client = LazyClient("bedrock-runtime")

    def __init__(
        self,
        model_id: str,
        client: Any = None,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
    ) -> None:
        if not model_id:
            raise ValueError("a model id (foundation model or inference profile) is required")
        self.model_id = model_id
        self._client = client
        self.max_text_chars = max_text_chars
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.calls = 0

    def _converse(self, document: DocumentSchema, messages: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        response: dict[str, Any] = aws.call(
            "bedrock",
            "Converse",
            self.client.converse,
            modelId=self.model_id,
            system=[{"text": system_prompt(document)}],
            messages=messages,
            inferenceConfig={"maxTokens": self.max_tokens, "temperature": self.temperature},
        )
        return response

    def _check(self, document: DocumentSchema, reply: str) -> tuple[Any, list[str]]:
        try:
            data = parse_json_reply(reply)
        except ValueError as error:
            return None, [f"/: {error}"]
        return data, document.errors(data)

    def extract(self, document: DocumentSchema, text: str) -> Extraction:
        """A validated extraction of ``text`` as ``document``, or :class:`ExtractionError`."""
        if not text.strip():
            raise ExtractionError(f"no text to extract a {document.name} from", document_type=document.name)
        truncated = text[: self.max_text_chars]
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": [{"text": user_prompt(document, truncated)}]}
        ]
        usage: dict[str, int] = {"inputTokens": 0, "outputTokens": 0}
        retried_for: list[str] = []
        errors: list[str] = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = self._converse(document, messages)
            for key in usage:
                usage[key] += int(response.get("usage", {}).get(key, 0))
            reply = _reply_text(response)
            data, errors = self._check(document, reply)
            if not errors:
                return Extraction(document.name, data, self.model_id, attempt, usage, retried_for)
            logger.info(
                "answer %d for a %s did not validate (%d error(s))", attempt, document.name, len(errors)
            )
            retried_for = errors
            messages.append({"role": "assistant", "content": [{"text": reply or "(empty)"}]})
            messages.append({"role": "user", "content": [{"text": retry_prompt(errors)}]})
        shown = "; ".join(errors[:3])
        raise ExtractionError(
            f"the model's answer did not follow the {document.name} schema after {MAX_ATTEMPTS} "
            f"attempts: {shown}",
            document_type=document.name,
            model_id=self.model_id,
            errors=errors[:20],
        )
