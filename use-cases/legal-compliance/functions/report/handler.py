"""Report: the run's analysis through the shared report step (Bedrock Converse, Markdown + JSON, SNS).

A model error fails the step with its typed error (``shared.report``) and nothing is saved as the
report; throttling is retried by the state.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from legal_compliance.contract import REPORT
from legal_compliance.report import report_run
from shared import config
from shared.clients import aws_client
from shared.config import env
from shared.observability import append_log_keys, trace_lambda_handler
from shared.report import ReportConfig
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LegalReportConfig(ReportConfig):
    volume_name: str = env("ONTAP_VOLUME_NAME", "")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(LegalReportConfig)
    REPORT.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    output = S3AccessPoint(cfg.output_bucket, aws_client("s3"))
    return report_run(
        cfg,
        output,
        str(event["analysis_key"]),
        bedrock=aws_client("bedrock-runtime"),
        sns=aws_client("sns") if cfg.report_topic_arn else None,
        volume=cfg.volume_name,
    )
