"""Annotation manager: the last state of a run that processed files.

It writes the result document of each cloud that passed QC, now that the segmentation outcome is
known, then the run's COCO-style document and summary (``autonomous_driving.annotations``).
"""

from __future__ import annotations

import logging
from typing import Any

from autonomous_driving.annotations import AnnotationConfig, annotate_run, finish_clouds, run_files
from autonomous_driving.contract import ANNOTATE
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(AnnotationConfig)
    ANNOTATE.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    output = S3AccessPoint(cfg.output_bucket, aws_client("s3"))
    segmentation = dict(event["segmentation"])
    finish_clouds(output, run_id, segmentation, source=cfg.access_point)
    bedrock = aws_client("bedrock-runtime") if cfg.enable_bedrock_summary else None
    return annotate_run(
        output,
        run_files(output, str(event["chunks_key"])),
        run={"run_id": run_id, "execution_id": str(event["execution_id"])},
        segmentation=segmentation,
        cfg=cfg,
        bedrock=bedrock,
    )
