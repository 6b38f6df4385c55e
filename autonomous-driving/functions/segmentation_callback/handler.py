"""Segmentation callback: resume the waiting execution when its Batch Transform job ends.

Invoked by the EventBridge rule for ``SageMaker Transform Job State Change`` (this stack's job-name
prefix), and by a schedule with ``{"action": "heartbeat"}`` that heartbeats running jobs and
settles ended ones whose event was lost. The rules live in ``autonomous_driving.callback``.
"""

from __future__ import annotations

import logging
from typing import Any

from autonomous_driving.callback import CallbackConfig, Clients, heartbeat, on_state_change
from shared import config
from shared.clients import aws_client
from shared.observability import trace_lambda_handler
from shared.s3ap import S3AccessPoint
from shared.tasktokens import TaskTokenStore

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(CallbackConfig)
    clients = Clients(
        stepfunctions=aws_client("stepfunctions"),
        sagemaker=aws_client("sagemaker"),
        store=TaskTokenStore(cfg.token_table, ttl_seconds=cfg.callback_timeout_seconds),
        output=S3AccessPoint(cfg.output_bucket),
    )
    if event.get("action") == "heartbeat":
        return heartbeat(clients)
    return on_state_change(clients, cfg, event)
