"""Sequence report: the run's sequences judged as a whole, and the re-rendered frames checked again.

``report``: one report, proxy and contact sheet per sequence the run touched, keyed by sequence
and version, and the run's render request. ``recheck``: after the re-render loop, the requested
frames are checked again and their sequences reported anew (``media_vfx.report``). Rekognition
(labels and moderation, on the proxy's bytes) runs only with ``ENABLE_REKOGNITION``.
"""

from __future__ import annotations

import logging
from typing import Any

from media_vfx.contract import RECHECK, REPORT_SEQUENCES
from media_vfx.report import ReportConfig, recheck_run, report_run
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(ReportConfig)
    s3 = aws_client("s3")
    source, output = S3AccessPoint(cfg.access_point, s3), S3AccessPoint(cfg.output_bucket, s3)
    rekognition = aws_client("rekognition") if cfg.enable_rekognition else None
    if event.get("action") == "recheck":
        RECHECK.check_input(event)
        append_log_keys(run_id=str(event["run_id"]))
        return recheck_run(
            source,
            output,
            run_id=str(event["run_id"]),
            render_request_key=str(event["render_request_key"]),
            render=event["render"],
            cfg=cfg,
            rekognition=rekognition,
        )
    REPORT_SEQUENCES.check_input(event)
    append_log_keys(run_id=str(event["run_id"]))
    return report_run(
        source,
        output,
        run_id=str(event["run_id"]),
        chunks_key=str(event["chunks_key"]),
        cfg=cfg,
        rekognition=rekognition,
    )
