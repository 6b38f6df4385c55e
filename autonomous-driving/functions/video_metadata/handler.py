"""Video metadata: one video of the run's manifest, described and labelled, its result document written.

The container is parsed through range reads and a sidecar still is labelled with Rekognition
(``autonomous_driving.video``). A video that cannot be parsed is a FAILED result with its
reason; access and service faults raise, and the per-file Catch records them.
"""

from __future__ import annotations

import logging
from typing import Any

from autonomous_driving.contract import VIDEO_METADATA
from autonomous_driving.results import SourceFile
from autonomous_driving.video import VideoConfig, process_video
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(VideoConfig)
    VIDEO_METADATA.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    rekognition = aws_client("rekognition") if cfg.enable_labels else None
    return process_video(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        rekognition,
        file,
        run_id=str(event["run_id"]),
        cfg=cfg,
    )
