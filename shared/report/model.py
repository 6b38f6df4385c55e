"""The model call of the report step: a budgeted prompt in, a validated narrative out.

:func:`build_prompt` puts the instructions, the audience and the (already fitted) facts into one
user message and checks the whole prompt, system text included, against the byte budget.
:func:`ask_model` sends it with Bedrock ``Converse`` (the model id may be a foundation-model id, an
inference-profile id such as ``us.amazon.nova-lite-v1:0``, or an ARN: Converse takes all three) and
returns a :class:`Narrative` only when the answer is the JSON object asked for:

``{"title": str, "summary": str, "key_points": [str], "recommendations": [str]}``

A fenced answer (```json ... ```) is accepted; anything else is a typed
:class:`~shared.report.errors.ReportModelError` and never a report. Throttling and service faults
raise :class:`~shared.polling.errors.TransientServiceError` (through :func:`shared.polling.aws.call`),
which the state machine retries.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Any

from shared.errors import aws_error_code
from shared.report.budget import FittedFacts, compact_json
from shared.report.errors import (
    ModelEmptyAnswerError,
    ModelInvocationError,
    ModelMalformedAnswerError,
    ModelRefusedError,
    ModelTruncatedAnswerError,
    PromptBudgetError,
)

logger = logging.getLogger(__name__)

SYSTEM_TEXT = (
    "You write short, factual run reports from aggregate figures. Use only the facts given; never "
    "invent numbers, names or paths. Items named _omitted stand for entries left out to keep the "
    "prompt small: mention them as such."
)
ANSWER_SHAPE = '{"title": "...", "summary": "...", "key_points": ["..."], "recommendations": ["..."]}'
MAX_TITLE_CHARS = 200
MAX_ITEMS = 20
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_OK_STOPS = frozenset({"end_turn", "stop_sequence"})
_REFUSALS = frozenset({"guardrail_intervened", "content_filtered"})


@dataclasses.dataclass(frozen=True)
class Prompt:
    """What is sent: the system text, the user text and their size against the budget."""

    system: str
    user: str
    budget_bytes: int

    @property
    def bytes(self) -> int:
        return len(self.system.encode("utf-8")) + len(self.user.encode("utf-8"))


@dataclasses.dataclass(frozen=True)
class Narrative:
    """The model's part of the report, validated."""

    title: str
    summary: str
    key_points: tuple[str, ...]
    recommendations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "summary": self.summary,
            "key_points": list(self.key_points),
            "recommendations": list(self.recommendations),
        }


@dataclasses.dataclass(frozen=True)
class ModelAnswer:
    """A validated narrative, and what the call cost."""

    narrative: Narrative
    model_id: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    latency_ms: int


def user_text(subject: str, audience: str, facts_json: str, notes: tuple[str, ...] = ()) -> str:
    """The user message around the facts (its fixed part counts against the budget too)."""
    lines = [
        f"Write the report of this run: {subject}. The reader is {audience}.",
        "Return only a JSON object of this shape, no other text: " + ANSWER_SHAPE,
        "title: one line. summary: at most five sentences. key_points: at most eight short facts with "
        "their numbers. recommendations: at most five concrete next steps.",
    ]
    if notes:
        lines.append("Shortened to fit the prompt budget: " + "; ".join(notes))
    lines.append("Facts (JSON): " + facts_json)
    return "\n".join(lines)


def build_prompt(
    subject: str, audience: str, fitted: FittedFacts, budget_bytes: int, *, system: str = SYSTEM_TEXT
) -> Prompt:
    """The prompt for ``fitted``; :class:`PromptBudgetError` when it exceeds ``budget_bytes``."""
    prompt = Prompt(
        system, user_text(subject, audience, compact_json(fitted.facts), fitted.notes), budget_bytes
    )
    if prompt.bytes > budget_bytes:
        raise PromptBudgetError(
            f"the prompt is {prompt.bytes} bytes, over its budget of {budget_bytes} bytes",
            prompt_bytes=prompt.bytes,
            budget_bytes=budget_bytes,
        )
    return prompt


def fixed_prompt_bytes(
    subject: str, audience: str, notes: tuple[str, ...] = (), *, system: str = SYSTEM_TEXT
) -> int:
    """Bytes of the prompt without its facts (the budget left for the facts is the rest)."""
    return len(system.encode("utf-8")) + len(user_text(subject, audience, "", notes).encode("utf-8"))


def _strings(answer: dict[str, Any], name: str) -> tuple[str, ...]:
    value = answer.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelMalformedAnswerError(
            f"the model's answer has no list of strings in {name!r}",
            problem=f"{name} is not a list of strings",
        )
    return tuple(v.strip() for v in value if v.strip())[:MAX_ITEMS]


def _text(answer: dict[str, Any], name: str) -> str:
    value = answer.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ModelMalformedAnswerError(
            f"the model's answer has no text in {name!r}", problem=f"{name} is missing or empty"
        )
    return value.strip()


def parse_answer(text: str) -> Narrative:
    """The narrative in a model's answer text (module docstring for what is accepted)."""
    body = text.strip()
    if not body:
        raise ModelEmptyAnswerError("the model answered with no text")
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        answer = json.loads(body)
    except json.JSONDecodeError as error:
        raise ModelMalformedAnswerError(
            f"the model's answer is not JSON ({error.msg} at character {error.pos})",
            problem="not JSON",
            answer_start=body[:200],
        ) from error
    if not isinstance(answer, dict):
        raise ModelMalformedAnswerError(
            f"the model's answer is JSON {type(answer).__name__}, not an object", problem="not an object"
        )
    return Narrative(
        title=_text(answer, "title")[:MAX_TITLE_CHARS],
        summary=_text(answer, "summary"),
        key_points=_strings(answer, "key_points"),
        recommendations=_strings(answer, "recommendations"),
    )


def ask_model(
    bedrock: Any, model_id: str, prompt: Prompt, *, max_tokens: int = 800, temperature: float = 0.2
) -> ModelAnswer:
    """Converse with ``model_id`` and validate the answer (module docstring)."""
    from botocore.exceptions import ClientError

    from shared.polling import aws

    if not model_id:
        raise ModelInvocationError("no model id is configured for the report", code="NoModelId")
    try:
        response = aws.call(
            "bedrock",
            "Converse",
            bedrock.converse,
            modelId=model_id,
            system=[{"text": prompt.system}],
            messages=[{"role": "user", "content": [{"text": prompt.user}]}],
            inferenceConfig={"maxTokens": max_tokens, "temperature": temperature},
        )
    except ClientError as error:
        code = aws_error_code(error)
        raise ModelInvocationError(
            f"Bedrock Converse refused the report request for model {model_id}: {code}: {error}",
            code=code,
            model_id=model_id,
        ) from error
    stop = str(response.get("stopReason") or "")
    parts = (response.get("output") or {}).get("message", {}).get("content", []) or []
    text = "".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))
    if stop in _REFUSALS:
        raise ModelRefusedError(
            f"the model's answer was stopped ({stop})", stop_reason=stop, model_id=model_id
        )
    if stop == "max_tokens":
        raise ModelTruncatedAnswerError(
            f"the model's answer stopped at the {max_tokens}-token limit; raise the report's max tokens",
            problem="truncated",
            stop_reason=stop,
            model_id=model_id,
        )
    if stop and stop not in _OK_STOPS:
        logger.warning("unexpected stopReason %s from %s", stop, model_id)
    narrative = parse_answer(text)
    usage = response.get("usage") or {}
    return ModelAnswer(
        narrative=narrative,
        model_id=model_id,
        stop_reason=stop,
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
        latency_ms=int((response.get("metrics") or {}).get("latencyMs", 0)),
    )
