"""Textract callback: subscribed to the jobs' SNS topic; resumes the execution that waits for each
finished job (SendTaskSuccess with pointers, or SendTaskFailure with Textract's status message)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from shared import config
from shared.clients import aws_client
from shared.config import CommonConfig, env
from shared.documents.asyncjobs import settle_notifications
from shared.observability import trace_lambda_handler
from shared.tasktokens import TaskTokenStore

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallbackConfig(CommonConfig):
    token_table: str = env("TOKEN_TABLE")
    callback_timeout_seconds: int = env("CALLBACK_TIMEOUT_SECONDS", 3600)
    textract_region: str = env("TEXTRACT_REGION", "")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(CallbackConfig)
    outcomes = settle_notifications(
        event,
        store=TaskTokenStore(
            cfg.token_table, client=aws_client("dynamodb"), ttl_seconds=cfg.callback_timeout_seconds
        ),
        sfn=aws_client("stepfunctions"),
        textract=aws_client("textract", cfg.textract_region or None),
        s3=aws_client("s3"),
    )
    return {"outcomes": outcomes}
