"""Render: submit the run's re-render jobs to AWS Deadline Cloud, then poll them to their end.

``submit`` reads the run's render request and creates one Open Job Description job per sequence
(the frame list in CreateJob's ``parameters`` map); ``status`` reads the jobs once and answers
RUNNING, SUCCEEDED, FAILED or TIMED_OUT (cancelling what still runs past the deadline). The state
machine's Wait/Choice loop calls ``status`` until the answer is final (``media_vfx.render``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from media_vfx.contract import RENDER_STATUS, SUBMIT_RENDER
from media_vfx.render import RenderConfig, status, submit
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(RenderConfig)
    deadline = aws_client("deadline")
    if event.get("action") == "status":
        RENDER_STATUS.check_input(event)
        return status(deadline, event["render"], cfg)
    SUBMIT_RENDER.check_input(event)
    append_log_keys(run_id=str(event["run_id"]))
    request = json.loads(
        S3AccessPoint(cfg.output_bucket, aws_client("s3")).get_bytes(str(event["render_request_key"]))
    )
    return submit(deadline, request, cfg)
