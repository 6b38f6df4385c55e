"""Validate: one design file of the run's manifest, read whole and summarised.

A file the readers refuse becomes a FAILED result naming the record and offset
(``semiconductor_eda.designs``); access and storage faults raise, and the per-file Catch records them.
"""

from __future__ import annotations

import logging
from typing import Any

from semiconductor_eda.contract import VALIDATE
from semiconductor_eda.designs import DesignFile, ValidateConfig, process_design
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(ValidateConfig)
    VALIDATE.check_input(event)
    file = DesignFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    return process_design(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        cfg=cfg,
    )
