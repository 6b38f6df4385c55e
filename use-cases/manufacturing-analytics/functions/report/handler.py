"""Report: the run's outcomes, the Athena queries over the report window, then the written report.

Reads only what earlier states wrote (the chunk list from Discover, the result documents and the
datasets of the per-file steps); ``manufacturing_analytics.report`` does the work. An Athena
failure or timeout raises its typed error, with Athena's reason, and fails the step.
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
    keys = report.write(output, document)
    return {
        "run_id": run_id,
        "window": document["window"],
        "counts": document["run"]["counts"],
        "findings": document["findings"],
        "bytes_scanned": document["bytes_scanned"],
        "report_keys": keys,
    }
