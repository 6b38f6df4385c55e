"""Process: one file of the run's manifest (an IFC model, a PDF drawing or a Revit file).

Reader and document errors become FAILED results naming what is wrong (``construction_bim.models``);
access and storage faults raise, and the per-file Catch records them.
"""

from __future__ import annotations

import logging
from typing import Any

from construction_bim.contract import PROCESS
from construction_bim.models import ProcessConfig, SourceFile, kind_of, process_file
from shared import config
from shared.clients import aws_client
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
    return process_file(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        cfg=cfg,
        textract=aws_client("textract") if kind_of(file.key) == "drawing" else None,
    )
