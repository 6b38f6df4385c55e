"""Summarize: the run's result documents, counted, to ``reports/<run>/summary.json`` (no PHI, no UID)."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from healthcare_dicom.contract import SUMMARIZE
from healthcare_dicom.summary import summarise
from shared import config
from shared.clients import aws_client
from shared.config import CommonConfig, env
from shared.errors import SUCCEEDED
from shared.observability import append_log_keys, trace_lambda_handler
from shared.polling.results import run_results
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SummaryConfig(CommonConfig):
    output_bucket: str = env("OUTPUT_BUCKET")
    report_prefix: str = env("REPORT_PREFIX", "reports/")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(SummaryConfig)
    SUMMARIZE.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    output = S3AccessPoint(cfg.output_bucket, aws_client("s3"))
    documents, pending = run_results(output, str(event["chunks_key"]))
    summary = summarise(run_id, documents, pending)
    key = f"{cfg.report_prefix}{run_id}/summary.json"
    output.put(key, json.dumps(summary, sort_keys=True).encode(), content_type="application/json")
    return {
        "run_id": run_id,
        "status": SUCCEEDED,
        "files": summary["files"],
        "succeeded": summary["succeeded"],
        "failed": summary["failed"],
        "pending": summary["pending"],
        "summary_uri": f"s3://{cfg.output_bucket}/{key}",
        "studies": summary["studies"],
        "series": summary["series"],
    }
