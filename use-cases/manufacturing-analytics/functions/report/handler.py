"""Report: the run's outcomes, the Athena queries over the report window, then the Bedrock report.

Reads only what earlier states wrote (the chunk list from Discover, the result documents and the
datasets of the per-file steps); ``manufacturing_analytics.report`` does the work and hands the
aggregates to the shared report step (``shared.report``). An Athena failure or timeout, or a model
error, raises its typed error and fails the step; a failed model answer is never saved.
"""

from __future__ import annotations

import logging
from typing import Any

from manufacturing_analytics import report
from manufacturing_analytics.contract import REPORT
from shared import config
from shared.analytics import AthenaRunner
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(report.ReportConfig)
    REPORT.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    output = S3AccessPoint(cfg.output_bucket, aws_client("s3"))
    document = report.build(
        output, AthenaRunner.from_environment(), run_id=run_id, chunks_key=str(event["chunks_key"]), cfg=cfg
    )
    outcome = report.write(
        output,
        document,
        cfg,
        bedrock=aws_client("bedrock-runtime"),
        sns=aws_client("sns") if cfg.report_topic_arn else None,
    )
    return {
        "run_id": run_id,
        "window": document["window"],
        "counts": document["run"]["counts"],
        "findings": document["findings"],
        "bytes_scanned": document["bytes_scanned"],
        "report_keys": {"json": outcome.json_key, "markdown": outcome.markdown_key},
        "report": outcome.to_dict(),
    }
