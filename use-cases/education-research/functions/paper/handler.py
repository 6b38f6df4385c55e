"""Paper: one PDF of the run's manifest into its result document (metadata, references, language).

A broken file is a FAILED result with the reader's reason (``education_research.process``);
access and storage faults and throttling raise, and the per-file Retry and Catch handle them.
"""

from __future__ import annotations

import logging
from typing import Any

from education_research.contract import PAPER
from education_research.process import PaperConfig, SourceFile, process_paper
from shared import config
from shared.clients import aws_client
from shared.language.comprehend import Comprehend
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

_comprehend: Comprehend | None = None


def comprehend() -> Comprehend:
    """One wrapper per execution environment (its client is made on first use)."""
    global _comprehend
    if _comprehend is None:
        _comprehend = Comprehend()
    return _comprehend


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(PaperConfig)
    PAPER.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    return process_paper(
        S3AccessPoint(cfg.access_point, s3),
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        cfg=cfg,
        comprehend=comprehend(),
    )
