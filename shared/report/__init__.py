"""The shared report step: a run's aggregates -> Bedrock Converse -> a Markdown + JSON report -> SNS.

Used by UC1 legal-compliance and the other analytics use cases (UC3, UC6, UC7, UC8). A report
function collects aggregates (Athena rows, counts; never every row) and calls
:func:`produce_report`::

    from shared import config
    from shared.clients import aws_client
    from shared.report import ReportConfig, ReportRequest, produce_report
    from shared.s3ap import S3AccessPoint

    cfg = config.load(ReportConfig)  # or a subclass with the use case's own fields
    outcome = produce_report(
        ReportRequest(
            run_id=run_id,
            subject="permission audit of volume legal",
            audience="a compliance officer",
            facts={"totals": {...}, "findings_by_rule": rows},  # sent to the model, budgeted
            tables={"Findings by share and owner": rows},  # rendered for the reader only
        ),
        cfg,
        bedrock=aws_client("bedrock-runtime"),
        output=S3AccessPoint(cfg.output_bucket),
        sns=aws_client("sns"),
    )
    outcome.to_dict()  # report URIs, console link, notification, prompt bytes, budget notes, tokens

Pieces (each module's docstring is its reference):

* :mod:`shared.report.budget`: :func:`fit_facts`, the byte budget (lists halved and their cut
  items summarised with counts and totals, long texts cut, every step noted);
* :mod:`shared.report.model`: the prompt, the Converse call and the answer's validation;
* :mod:`shared.report.step`: keys (``<REPORT_PREFIX><run_id>/report.json|.md``), Markdown, SNS,
  the environment (:class:`ReportConfig`) and the IAM the function needs;
* :mod:`shared.report.errors`: the typed errors; a model error never becomes a report.

On the embedded cloud, ``scripts/localcloud/ai_standins.py`` answers Converse with the JSON shape
the prompt shows, so the step runs end to end there.
"""

from __future__ import annotations

import logging

from shared.report.budget import FittedFacts, fit_facts
from shared.report.errors import (
    ModelEmptyAnswerError,
    ModelInvocationError,
    ModelMalformedAnswerError,
    ModelRefusedError,
    ModelTruncatedAnswerError,
    PromptBudgetError,
    ReportError,
    ReportModelError,
    ReportNotificationError,
)
from shared.report.model import ModelAnswer, Narrative, Prompt, ask_model, build_prompt, parse_answer
from shared.report.step import (
    ReportConfig,
    ReportOutcome,
    ReportRequest,
    console_url,
    fit_prompt,
    produce_report,
    render_markdown,
    report_keys,
)

logger = logging.getLogger(__name__)

__all__ = [
    "FittedFacts",
    "ModelAnswer",
    "ModelEmptyAnswerError",
    "ModelInvocationError",
    "ModelMalformedAnswerError",
    "ModelRefusedError",
    "ModelTruncatedAnswerError",
    "Narrative",
    "Prompt",
    "PromptBudgetError",
    "ReportConfig",
    "ReportError",
    "ReportModelError",
    "ReportNotificationError",
    "ReportOutcome",
    "ReportRequest",
    "ask_model",
    "build_prompt",
    "console_url",
    "fit_facts",
    "fit_prompt",
    "parse_answer",
    "produce_report",
    "render_markdown",
    "report_keys",
]
