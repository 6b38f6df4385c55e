"""Inspection: one image of the run's manifest labelled by Rekognition (bytes), its defect decided.

``manufacturing_analytics.pipeline.process_image`` does the work: images over 5 MB are resized
first, the decision uses the ``DEFECT_LABELS`` rules. An image that does not decode or that
Rekognition refuses is a FAILED result; throttling raises TransientServiceError for the Retry.
"""

from __future__ import annotations

import logging
from typing import Any

from manufacturing_analytics.contract import INSPECTION
from manufacturing_analytics.pipeline import StepConfig, process_image
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(StepConfig)
    INSPECTION.check_input(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=str(event["key"]))
    s3 = aws_client("s3")
    return process_image(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        aws_client("rekognition"),
        event,
        cfg,
        s3=s3,
    )
