"""Assess: every claim the run touched into its claim file (completeness, rules, recommendation, a
cited Converse assessment) and dataset row. See ``insurance_claims.aggregate``."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from insurance_claims.aggregate import assess_run
from insurance_claims.assessment import Thresholds
from insurance_claims.contract import ASSESS
from shared import config
from shared.clients import aws_client
from shared.config import CommonConfig, env
from shared.observability import trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AssessConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    model_id: str = env("MODEL_ID")
    auto_approve_limit: float = env("AUTO_APPROVE_LIMIT", 5000.0)
    deny_limit: float = env("DENY_LIMIT", 50000.0)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from shared.language.extraction import StructuredExtractor

    cfg = config.load(AssessConfig)
    ASSESS.check_input(event)
    s3 = aws_client("s3")
    return assess_run(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        run_id=str(event["run_id"]),
        chunks_key=str(event["chunks_key"]),
        thresholds=Thresholds(cfg.auto_approve_limit, cfg.deny_limit),
        extractor=StructuredExtractor(cfg.model_id, aws_client("bedrock-runtime")),
    )
