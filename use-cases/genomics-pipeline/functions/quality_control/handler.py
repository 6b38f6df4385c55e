"""QualityControl: one FASTQ, BAM or VCF version of the run's manifest, read and summarised.

A malformed file is a FAILED result naming what is wrong and where; access and storage faults and
a file that changes while it is read raise, and the per-file Catch records them.
"""

from __future__ import annotations

import logging
from typing import Any

from genomics_pipeline.contract import QUALITY_CONTROL
from genomics_pipeline.qc import QcConfig, process_file
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(QcConfig)
    QUALITY_CONTROL.check_input(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=str(event["key"]))
    s3 = aws_client("s3")
    return process_file(S3AccessPoint(cfg.access_point, s3), S3AccessPoint(cfg.output_bucket, s3), event, cfg)
