"""Report: the run's result documents to dataset tables, Athena summaries and the run report (Bedrock).

Reads the run's chunk list (written by discovery) and each file version's result document, never
keys no state set (``energy_seismic.report``); the shared report step (``shared.report``) turns
the aggregates into the Markdown + JSON report. A model error leaves the plain report (the same
tables, no narrative) under the same keys, and the step says so.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from energy_seismic.contract import REPORT
from energy_seismic.report import markdown, summarise_run
from shared import config
from shared.analytics import AthenaRunner
from shared.clients import aws_client
from shared.errors import FAILED, SUCCEEDED
from shared.observability import append_log_keys, trace_lambda_handler
from shared.report import ReportConfig, ReportModelError, ReportRequest, produce_report
from shared.report.step import report_keys
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

AUDIENCE = "a subsurface data manager checking a delivery of seismic surveys and well logs"


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(ReportConfig)
    REPORT.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    output = S3AccessPoint(cfg.output_bucket, aws_client("s3"))
    remaining = context.get_remaining_time_in_millis() / 1000 if context else 300.0
    summary = summarise_run(
        output,
        run_id=run_id,
        chunks_key=str(event["chunks_key"]),
        athena=AthenaRunner.from_environment(),
        deadline_seconds=max(10.0, remaining / 5 - 5),
    )
    facts = summary["facts"]
    request = ReportRequest(
        run_id=run_id,
        subject="SEG-Y surveys and LAS well logs: readability and compliance",
        audience=AUDIENCE,
        facts=facts,
        tables={name: rows for name, rows in summary["tables"].items() if rows},
    )
    try:
        outcome = produce_report(request, cfg, bedrock=aws_client("bedrock-runtime"), output=output)
        narrative: dict[str, Any] = {"status": SUCCEEDED, **outcome.to_dict()}
        report_uri = outcome.markdown_uri
    except ReportModelError as error:
        json_key, markdown_key = report_keys(cfg.report_prefix, run_id)
        output.put(markdown_key, markdown(summary).encode(), content_type="text/markdown; charset=utf-8")
        output.put(json_key, json.dumps(summary, default=str).encode(), content_type="application/json")
        narrative = {"status": FAILED, "error": type(error).__name__, "reason": error.reason}
        report_uri = f"s3://{cfg.output_bucket}/{markdown_key}"
        logger.warning("report model failed (%s); the plain report was written", type(error).__name__)
    return {
        "run_id": run_id,
        "status": SUCCEEDED,
        "files": facts["files"],
        "succeeded": facts["succeeded"],
        "failed": facts["failed"],
        "pending": facts["pending"],
        "report_uri": report_uri,
        "narrative": narrative,
        "datasets": summary["datasets"],
        "athena_bytes_scanned": summary["athena_bytes_scanned"],
    }
