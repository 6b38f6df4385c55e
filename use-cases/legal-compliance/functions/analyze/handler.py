"""Analyze: the run's result documents into the datasets, one Athena query per policy rule, the summary.

See ``legal_compliance.analyze``. Each query's deadline is what is left of this invocation minus
a margin, so a slow query fails the step with a typed Athena timeout instead of a Lambda timeout.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from legal_compliance.analyze import AnalyzeConfig, analyze_run
from legal_compliance.contract import ANALYZE
from shared import config
from shared.analytics import AthenaRunner
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

MARGIN_SECONDS = 20.0
DEFAULT_DEADLINE_SECONDS = 120.0


def _deadline(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return DEFAULT_DEADLINE_SECONDS
    return max(1.0, float(remaining()) / 1000.0 - MARGIN_SECONDS)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(AnalyzeConfig)
    ANALYZE.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    started = datetime.fromisoformat(str(event["started_at"]).replace("Z", "+00:00"))
    s3 = aws_client("s3")
    return analyze_run(
        cfg,
        S3AccessPoint(cfg.output_bucket, s3),
        AthenaRunner.from_environment(client=aws_client("athena")),
        run_id=run_id,
        manifest_key=str(event["manifest_key"]),
        started_at=started if started.tzinfo else started.replace(tzinfo=UTC),
        deadline=lambda: _deadline(context),
        s3_client=s3,
    )
