"""Report: the run's summary through the shared report step (Bedrock Converse) to report.md/json."""

from __future__ import annotations

import logging
from typing import Any

from genomics_pipeline.contract import REPORT
from genomics_pipeline.report import report_run
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.report import ReportConfig
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(ReportConfig)
    REPORT.check_input(event)
    append_log_keys(run_id=str(event["run_id"]))
    return report_run(
        S3AccessPoint(cfg.output_bucket, aws_client("s3")),
        cfg,
        run_id=str(event["run_id"]),
        key=str(event["summary_key"]),
        bedrock=aws_client("bedrock-runtime"),
        sns=aws_client("sns") if cfg.report_topic_arn else None,
    )
