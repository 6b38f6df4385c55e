"""Extract: one invoice or statement version (text layer, or Textract page by page), or the
collection of its asynchronous Textract job (``action: collect``). See ``financial_idp.process``."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from financial_idp.contract import COLLECT, EXTRACT
from financial_idp.process import MB, ExtractConfig, SourceFile, collect_file, process_file
from shared import config
from shared.clients import aws_client
from shared.config import env
from shared.documents.textract import Classified
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(ExtractConfig):
    textract_region: str = env("TEXTRACT_REGION", "")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(Config)
    collecting = event.get("action") == "collect"
    (COLLECT if collecting else EXTRACT).check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    textract = Classified(aws_client("textract", cfg.textract_region or None))
    source, output = S3AccessPoint(cfg.access_point, s3), S3AccessPoint(cfg.output_bucket, s3)
    max_bytes = cfg.max_document_mib * MB
    if collecting:
        return collect_file(  # the last per-file step: nothing reads more than the summary
            source,
            output,
            file,
            run_id=str(event["run_id"]),
            job=event["job"],
            textract=textract,
            s3=s3,
            max_bytes=max_bytes,
        )
    carried = {**file.to_dict(), "run_id": str(event["run_id"]), "ocr_pages": [], "textract_kind": ""}
    return carried | process_file(
        source, output, file, run_id=str(event["run_id"]), textract=textract, max_bytes=max_bytes
    )
