"""Sensor log: one CSV of the run's manifest typed into readings and anomalies, its result written.

``manufacturing_analytics.pipeline.process_sensor_log`` does the work; an unusable file (no header,
no timestamp column, not UTF-8) is a FAILED result with the reason, and access or storage faults
raise for the state's Retry and Catch.
"""

from __future__ import annotations

import logging
from typing import Any

from manufacturing_analytics.contract import SENSOR_LOG
from manufacturing_analytics.pipeline import StepConfig, process_sensor_log
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(StepConfig)
    SENSOR_LOG.check_input(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=str(event["key"]))
    s3 = aws_client("s3")
    return process_sensor_log(
        S3AccessPoint(cfg.access_point, s3), S3AccessPoint(cfg.output_bucket, s3), event, cfg, s3=s3
    )
