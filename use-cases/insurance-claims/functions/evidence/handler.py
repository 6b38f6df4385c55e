"""Evidence: one claim file version (photo, estimate or policy document) into its result.
See ``insurance_claims.evidence``."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from insurance_claims.contract import EVIDENCE
from insurance_claims.evidence import EvidenceConfig, SourceFile, process_file
from shared import config
from shared.clients import aws_client
from shared.config import env
from shared.documents.textract import Classified
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(EvidenceConfig):
    textract_region: str = env("TEXTRACT_REGION", "")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(Config)
    EVIDENCE.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    return process_file(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        cfg=cfg,
        rekognition=aws_client("rekognition"),
        textract=Classified(aws_client("textract", cfg.textract_region or None)),
    )
