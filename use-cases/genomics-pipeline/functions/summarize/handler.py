"""Summarize: the run's result documents become dataset rows, Athena summarises them, summary.json."""

from __future__ import annotations

import logging
from typing import Any

from genomics_pipeline.contract import SUMMARIZE
from genomics_pipeline.summary import SummaryConfig, summarize
from shared import config
from shared.analytics import AthenaRunner
from shared.analytics.athena import AthenaSettings
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(SummaryConfig)
    SUMMARIZE.check_input(event)
    append_log_keys(run_id=str(event["run_id"]))
    runner = AthenaRunner(config.load(AthenaSettings), client=aws_client("athena"))
    return summarize(
        S3AccessPoint(cfg.output_bucket, aws_client("s3")),
        runner,
        cfg,
        run_id=str(event["run_id"]),
        chunks_key=str(event["chunks_key"]),
    )
