"""Report: the run's Athena summaries per project, unit mismatches, and the Bedrock report.

Reads only the dataset rows the validate step wrote for this run (``semiconductor_eda.report``).
"""

from __future__ import annotations

import logging
from typing import Any

from semiconductor_eda.contract import REPORT
from semiconductor_eda.report import EdaReportConfig, gather, report_request
from shared import config
from shared.analytics import AthenaRunner, AthenaSettings
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.report import produce_report
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(EdaReportConfig)
    REPORT.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    runner = AthenaRunner(AthenaSettings(workgroup=cfg.athena_workgroup, database=cfg.glue_database))
    remaining = context.get_remaining_time_in_millis() / 1000 if context else 300.0

    def run_query(sql: str) -> list[dict[str, Any]]:
        left = context.get_remaining_time_in_millis() / 1000 if context else remaining
        return runner.run(sql, deadline_seconds=max(5.0, left - 30), max_rows=cfg.max_rows).rows

    aggregates = gather(run_query, run_id=run_id, day=str(event["started_at"])[:10])
    topic = aws_client("sns") if cfg.report_topic_arn else None
    outcome = produce_report(
        report_request(run_id, aggregates),
        cfg,
        bedrock=aws_client("bedrock-runtime"),
        output=S3AccessPoint(cfg.output_bucket, aws_client("s3")),
        sns=topic,
    )
    return {
        "run_id": run_id,
        "status": "SUCCEEDED",
        "totals": aggregates["totals"],
        "unit_mismatches": aggregates["unit_mismatches"][:20],
        "report_uri": outcome.json_uri,
        "markdown_uri": outcome.markdown_uri,
    }
