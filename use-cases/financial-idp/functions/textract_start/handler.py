"""Textract start: the ``.waitForTaskToken`` task of a multi-page scan. Stages the pages that need
OCR in the staging bucket (Textract cannot read an access point), stores the task token and starts
the job with an SNS NotificationChannel (``shared.documents.asyncjobs``)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from financial_idp.contract import WAIT_FOR_TEXTRACT
from financial_idp.process import MB, ExtractConfig, SourceFile, start_async
from shared import config
from shared.clients import aws_client
from shared.config import env
from shared.documents.asyncjobs import AsyncSettings
from shared.documents.textract import Classified
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint
from shared.tasktokens import TaskTokenStore

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StartConfig(ExtractConfig):
    staging_bucket: str = env("STAGING_BUCKET")
    textract_topic_arn: str = env("TEXTRACT_TOPIC_ARN")
    textract_role_arn: str = env("TEXTRACT_ROLE_ARN")
    token_table: str = env("TOKEN_TABLE")
    job_name_prefix: str = env("JOB_NAME_PREFIX", "uc2")
    callback_timeout_seconds: int = env("CALLBACK_TIMEOUT_SECONDS", 3600)
    textract_region: str = env("TEXTRACT_REGION", "")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(StartConfig)
    WAIT_FOR_TEXTRACT.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    return start_async(
        S3AccessPoint(cfg.access_point, s3),
        file,
        run_id=str(event["run_id"]),
        token=str(event["task_token"]),
        execution_id=str(event["execution_id"]),
        ocr_pages=[int(p) for p in event["ocr_pages"]],
        textract_kind=str(event["textract_kind"]),
        settings=AsyncSettings(
            cfg.staging_bucket, cfg.textract_topic_arn, cfg.textract_role_arn, cfg.job_name_prefix
        ),
        textract=Classified(aws_client("textract", cfg.textract_region or None)),
        s3=s3,
        store=TaskTokenStore(
            cfg.token_table, client=aws_client("dynamodb"), ttl_seconds=cfg.callback_timeout_seconds
        ),
        max_bytes=cfg.max_document_mib * MB,
    )
