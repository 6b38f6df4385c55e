"""Report: the run's result documents to dataset tables, Athena summaries and the run report.

Reads the run's chunk list (written by discovery) and each file version's result document, never
keys no state set (``energy_seismic.report``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from energy_seismic.contract import REPORT
from energy_seismic.report import markdown, summarise_run
from shared import config
from shared.analytics import AthenaRunner
from shared.clients import aws_client
from shared.config import CommonConfig, env
from shared.errors import SUCCEEDED
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunReportConfig(CommonConfig):
    output_bucket: str = env("OUTPUT_BUCKET")
    report_prefix: str = env("REPORT_PREFIX", "reports/")


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(RunReportConfig)
    REPORT.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    output = S3AccessPoint(cfg.output_bucket, aws_client("s3"))
    remaining = context.get_remaining_time_in_millis() / 1000 if context else 300.0
    summary = summarise_run(
        output,
        run_id=run_id,
        chunks_key=str(event["chunks_key"]),
        athena=AthenaRunner.from_environment(),
        deadline_seconds=max(10.0, remaining / 5 - 5),
    )
    base = f"{cfg.report_prefix}{run_id}/"
    output.put(base + "report.md", markdown(summary).encode(), content_type="text/markdown")
    output.put(
        base + "report.json",
        json.dumps(summary, default=str, sort_keys=True).encode(),
        content_type="application/json",
    )
    facts = summary["facts"]
    return {
        "run_id": run_id,
        "status": SUCCEEDED,
        "files": facts["files"],
        "succeeded": facts["succeeded"],
        "failed": facts["failed"],
        "pending": facts["pending"],
        "report_uri": f"s3://{cfg.output_bucket}/{base}report.md",
    }
