"""The report step: aggregates -> budgeted prompt -> Bedrock -> Markdown + JSON in S3 -> SNS.

:func:`produce_report` is the whole step; a use case's report function gathers its aggregates
(Athena rows, counts) into a :class:`ReportRequest` and calls it. In order:

1. fit the facts into the prompt budget (:func:`shared.report.budget.fit_facts`, notes recorded);
2. ask the model (:func:`shared.report.model.ask_model`); any model error raises here, before
   anything is written, so a failed answer is never saved as the report;
3. write ``<prefix><run_id>/report.json`` then ``report.md`` to the output bucket (the run id
   keys them: a retry of the same run overwrites its own report, another run never does);
4. publish a short SNS message linking to both (S3 URIs and a console link), when a topic is set.

``tables`` are rows for the reader (rendered in the Markdown, at most ``max_table_rows`` each, and
stored in the JSON); they are never sent to the model. Only ``facts`` are, within the budget.

Environment (:class:`ReportConfig`): ``REPORT_MODEL_ID`` (a model id, an inference-profile id or
ARN), ``REPORT_PROMPT_BUDGET_BYTES`` (default 12,000), ``REPORT_MAX_TOKENS`` (800),
``REPORT_TOPIC_ARN`` (empty: no notification), ``REPORT_PREFIX`` (``reports/``), ``OUTPUT_BUCKET``.

IAM of the function (the template's ``<Fn>Policy``): ``bedrock:InvokeModel`` on
``foundation-model/<id>`` in the region and on ``inference-profile/<id>`` in the account, plus
``foundation-model/*`` in any region under the condition ``bedrock:InferenceProfileArn`` equals
that profile (what a cross-region profile routes to); ``s3:PutObject`` on
``<bucket>/<prefix>*``; ``sns:Publish`` on the topic (and ``kms:GenerateDataKey``/``kms:Decrypt``
on its key when it is encrypted with a customer-managed key).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.config import CommonConfig, env
from shared.errors import aws_error_code
from shared.report.budget import FittedFacts, fit_facts, sanitize
from shared.report.errors import PromptBudgetError, ReportNotificationError
from shared.report.model import ModelAnswer, Narrative, Prompt, ask_model, build_prompt, fixed_prompt_bytes
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

REPORT_VERSION = 1
DEFAULT_BUDGET_BYTES = 12_000
MAX_SUBJECT_CHARS = 100  # SNS's limit on a subject


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportConfig(CommonConfig):
    """The report step's settings (module docstring); use cases subclass it with their own."""

    output_bucket: str = env("OUTPUT_BUCKET")
    report_model_id: str = env("REPORT_MODEL_ID", "amazon.nova-lite-v1:0")
    report_prompt_budget_bytes: int = env("REPORT_PROMPT_BUDGET_BYTES", DEFAULT_BUDGET_BYTES)
    report_max_tokens: int = env("REPORT_MAX_TOKENS", 800)
    report_topic_arn: str = env("REPORT_TOPIC_ARN", "")
    report_prefix: str = env("REPORT_PREFIX", "reports/")


@dataclasses.dataclass(frozen=True)
class ReportRequest:
    """What one run reports: ``facts`` go to the model (budgeted), ``tables`` only to the reader."""

    run_id: str
    subject: str  # "legal-compliance audit of volume legal"
    audience: str  # "a compliance officer"
    facts: Mapping[str, Any]
    tables: Mapping[str, Sequence[Mapping[str, Any]]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ReportOutcome:
    """Where the report went and what it cost."""

    bucket: str
    json_key: str
    markdown_key: str
    console_url: str
    notification: dict[str, Any]
    prompt_bytes: int
    budget: FittedFacts
    answer: ModelAnswer

    @property
    def json_uri(self) -> str:
        return f"s3://{self.bucket}/{self.json_key}"

    @property
    def markdown_uri(self) -> str:
        return f"s3://{self.bucket}/{self.markdown_key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "report_json": self.json_uri,
            "report_markdown": self.markdown_uri,
            "console_url": self.console_url,
            "notification": self.notification,
            "prompt_bytes": self.prompt_bytes,
            "budget": self.budget.to_dict(),
            "model_id": self.answer.model_id,
            "input_tokens": self.answer.input_tokens,
            "output_tokens": self.answer.output_tokens,
            "title": self.answer.narrative.title,
        }


def report_keys(prefix: str, run_id: str) -> tuple[str, str]:
    """(JSON key, Markdown key) of one run's report."""
    if not run_id or "/" in run_id or run_id in {".", ".."}:
        raise ValueError(f"a run id is one path segment, not {run_id!r}")
    base = f"{prefix.rstrip('/')}/{run_id}/" if prefix.strip("/") else f"{run_id}/"
    return base + "report.json", base + "report.md"


def console_url(bucket: str, key: str, region: str) -> str:
    """The S3 console page of one object."""
    query = urllib.parse.urlencode({"region": region, "prefix": key})
    return f"https://{region}.console.aws.amazon.com/s3/object/{urllib.parse.quote(bucket)}?{query}"


def fit_prompt(request: ReportRequest, budget_bytes: int) -> tuple[FittedFacts, Prompt]:
    """Fit the facts so that the WHOLE prompt (instructions, notes, facts) is within ``budget_bytes``."""
    facts_budget = budget_bytes - fixed_prompt_bytes(request.subject, request.audience)
    for _ in range(8):
        if facts_budget <= 2:
            break
        fitted = fit_facts(request.facts, facts_budget)
        try:
            prompt = build_prompt(request.subject, request.audience, fitted, budget_bytes)
        except PromptBudgetError as error:  # the notes took room: leave that much more
            facts_budget -= int(error.details["prompt_bytes"]) - budget_bytes
            continue
        return fitted, prompt
    raise PromptBudgetError(
        f"a prompt budget of {budget_bytes} bytes leaves no room for facts after the instructions",
        budget_bytes=budget_bytes,
    )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def markdown_table(rows: Sequence[Mapping[str, Any]], max_rows: int) -> str:
    """A Markdown table of ``rows`` (columns from the first row), at most ``max_rows`` of them."""
    if not rows:
        return "_none_\n"
    columns = list(rows[0].keys())
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows[:max_rows]]
    if len(rows) > max_rows:
        lines.append(f"\n_{len(rows) - max_rows} more rows in report.json._")
    return "\n".join(lines) + "\n"


def render_markdown(document: Mapping[str, Any], max_table_rows: int = 50) -> str:
    """The Markdown report from the JSON document."""
    narrative = document["narrative"]
    model = document["model"]
    prompt = document["prompt"]
    out = [
        f"# {_cell(narrative['title'])}",
        "",
        f"Run `{document['run_id']}` · {document['subject']} · generated {document['generated_at']} "
        f"by `{model['id']}`",
        "",
        "## Summary",
        "",
        narrative["summary"],
        "",
        "## Key points",
        "",
        *[f"- {p}" for p in narrative["key_points"] or ["(none given)"]],
        "",
        "## Recommendations",
        "",
        *[f"- {r}" for r in narrative["recommendations"] or ["(none given)"]],
        "",
    ]
    for name, rows in document["tables"].items():
        out += [f"## {name}", "", markdown_table(rows, max_table_rows)]
    out += [
        "## About this report",
        "",
        f"Written by a model from aggregates only: {prompt['bytes']} prompt bytes of a "
        f"{prompt['budget_bytes']}-byte budget (facts {prompt['facts']['original_bytes']} bytes, "
        f"{prompt['facts']['sent_bytes']} sent). Check figures against the tables above.",
    ]
    out += [f"- {note}" for note in prompt["facts"]["notes"]]
    return "\n".join(out) + "\n"


def report_document(
    request: ReportRequest,
    fitted: FittedFacts,
    prompt: Prompt,
    answer: ModelAnswer,
    now: datetime,
) -> dict[str, Any]:
    """The JSON report."""
    return {
        "report_version": REPORT_VERSION,
        "run_id": request.run_id,
        "subject": request.subject,
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "narrative": answer.narrative.to_dict(),
        "model": {
            "id": answer.model_id,
            "stop_reason": answer.stop_reason,
            "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens,
            "latency_ms": answer.latency_ms,
        },
        "prompt": {"bytes": prompt.bytes, "budget_bytes": prompt.budget_bytes, "facts": fitted.to_dict()},
        "facts_sent": fitted.facts,
        "tables": {name: sanitize(list(rows)) for name, rows in request.tables.items()},
    }


def notification_text(narrative: Narrative, bucket: str, json_key: str, markdown_key: str, link: str) -> str:
    """The short SNS message: the title, the summary's first sentence, the links."""
    first = narrative.summary.split(". ")[0].strip()
    first = first if len(first) <= 300 else first[:297] + "..."
    return "\n".join(
        [
            narrative.title,
            "",
            first.rstrip(".") + ".",
            "",
            f"Report (Markdown): s3://{bucket}/{markdown_key}",
            f"Report (JSON): s3://{bucket}/{json_key}",
            f"Console: {link}",
        ]
    )


def notify(sns: Any, topic_arn: str, subject: str, message: str, *, report_uri: str) -> dict[str, Any]:
    """Publish the notification; :class:`ReportNotificationError` when SNS refuses it."""
    from botocore.exceptions import ClientError

    clean_subject = " ".join(subject.split())[:MAX_SUBJECT_CHARS] or "Report"
    try:
        response = sns.publish(TopicArn=topic_arn, Subject=clean_subject, Message=message)
    except ClientError as error:
        raise ReportNotificationError(
            f"the report was saved but SNS refused its notification: {aws_error_code(error)}: {error}",
            topic_arn=topic_arn,
            report=report_uri,
            code=aws_error_code(error),
        ) from error
    return {"status": "SENT", "topic_arn": topic_arn, "message_id": response.get("MessageId", "")}


def produce_report(
    request: ReportRequest,
    cfg: ReportConfig,
    *,
    bedrock: Any,
    output: S3AccessPoint,
    sns: Any | None = None,
    region: str | None = None,
    now: datetime | None = None,
    max_table_rows: int = 50,
) -> ReportOutcome:
    """Run the report step (module docstring). Model errors raise before anything is written."""
    fitted, prompt = fit_prompt(request, cfg.report_prompt_budget_bytes)
    answer = ask_model(bedrock, cfg.report_model_id, prompt, max_tokens=cfg.report_max_tokens)
    document = report_document(request, fitted, prompt, answer, now or datetime.now(UTC))
    json_key, markdown_key = report_keys(cfg.report_prefix, request.run_id)
    output.put(
        json_key,
        json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False).encode("utf-8"),
        content_type="application/json",
    )
    output.put(
        markdown_key,
        render_markdown(document, max_table_rows).encode("utf-8"),
        content_type="text/markdown; charset=utf-8",
    )
    bucket = cfg.output_bucket
    link = console_url(bucket, markdown_key, region or os.environ.get("AWS_REGION") or "us-east-1")
    if cfg.report_topic_arn and sns is not None:
        notification = notify(
            sns,
            cfg.report_topic_arn,
            f"{answer.narrative.title} ({request.run_id})",
            notification_text(answer.narrative, bucket, json_key, markdown_key, link),
            report_uri=f"s3://{bucket}/{markdown_key}",
        )
    else:
        notification = {"status": "SKIPPED", "reason": "no REPORT_TOPIC_ARN is set"}
    logger.info("report written to s3://%s/%s (%d prompt bytes)", bucket, markdown_key, prompt.bytes)
    return ReportOutcome(
        bucket=bucket,
        json_key=json_key,
        markdown_key=markdown_key,
        console_url=link,
        notification=notification,
        prompt_bytes=prompt.bytes,
        budget=fitted,
        answer=answer,
    )
