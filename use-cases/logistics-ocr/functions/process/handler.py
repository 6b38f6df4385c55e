"""Process: one waybill, packing list, label or inventory photo version. See ``logistics_ocr.process``."""

from __future__ import annotations

import logging
from typing import Any

from logistics_ocr.contract import PROCESS
from logistics_ocr.process import MB, ProcessConfig, Services, SourceFile, process_file
from shared import config
from shared.clients import aws_client
from shared.documents.textract import Classified
from shared.language.extraction import StructuredExtractor
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(ProcessConfig)
    PROCESS.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    services = Services(
        textract=Classified(aws_client("textract", cfg.textract_region or None)),
        rekognition=aws_client("rekognition"),
        extractor=StructuredExtractor(cfg.model_id, aws_client("bedrock-runtime")),
    )
    return process_file(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        services=services,
        max_bytes=cfg.max_document_mib * MB,
    )
