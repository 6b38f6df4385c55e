"""Point-cloud QC: one cloud of the run's manifest, read and judged against the stack's thresholds.

A cloud that passes waits for the run's segmentation; any other outcome is written at once as the
file's FAILED result with its reason (``autonomous_driving.qc``). Access and storage
faults raise, and the per-file Catch records them.
"""

from __future__ import annotations

import logging
from typing import Any

from autonomous_driving.contract import POINTCLOUD_QC
from autonomous_driving.qc import QcConfig, process_pointcloud
from autonomous_driving.quality import QCThresholds
from autonomous_driving.results import SourceFile
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(QcConfig)
    POINTCLOUD_QC.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    return process_pointcloud(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        thresholds=config.load(QCThresholds),
        cfg=cfg,
    )
