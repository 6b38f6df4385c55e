"""Report: the run's shipments dataset rows (Athena) and summary, label counts per location included."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from logistics_ocr.contract import REPORT
from logistics_ocr.report import build_report
from shared import config
from shared.clients import aws_client
from shared.config import CommonConfig, env
from shared.observability import trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportConfig(CommonConfig):
    output_bucket: str = env("OUTPUT_BUCKET")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(ReportConfig)
    REPORT.check_input(event)
    output = S3AccessPoint(cfg.output_bucket, aws_client("s3"))
    return build_report(output, run_id=str(event["run_id"]), chunks_key=str(event["chunks_key"]))
