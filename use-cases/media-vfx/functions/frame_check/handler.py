"""Frame check: one frame of the run's manifest, its header read by range and its pixels checked.

The result document holds the header (EXR or DPX), how many header bytes were read, the pixel
statistics (or NOT_CHECKED with the reason) and the key of its thumbnail (``media_vfx.frames``).
An unreadable frame is a FAILED result naming what and where; access and storage faults raise,
and the per-file Catch records them.
"""

from __future__ import annotations

import logging
from typing import Any

from media_vfx.contract import FRAME_CHECK
from media_vfx.frames import FrameConfig, check_frame, summary
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(FrameConfig)
    FRAME_CHECK.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id, file_key=str(event["key"]))
    s3 = aws_client("s3")
    doc = check_frame(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        event,
        run_id=run_id,
        cfg=cfg,
    )
    return summary(doc)
