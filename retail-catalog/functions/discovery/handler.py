"""Discovery: the polling skeleton's discovery function with the retail configuration.

It answers the three actions of :func:`shared.polling.steps.handle`: ``discover`` (the first
state of a run, which stops when another run is in flight), ``load_chunk`` (the first state of each
Distributed Map child) and ``record_failure`` (the Catch target of the per-file branch).
"""

from __future__ import annotations

import logging
from typing import Any

from retail_catalog.settings import DiscoveryConfig
from shared import config
from shared.clients import aws_client
from shared.observability import trace_lambda_handler
from shared.polling.steps import handle
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DiscoveryConfig)
    s3 = aws_client("s3")
    return handle(
        event,
        cfg,
        source=S3AccessPoint(cfg.access_point, s3),
        output=S3AccessPoint(cfg.output_bucket, s3),
        # Only a run started by Step Functions checks for another in flight.
        sfn=aws_client("stepfunctions") if event.get("execution_arn") else None,
    )
