"""Segmentation invoke: the ``.waitForTaskToken`` task that segments the run's QC-passed clouds.

Real mode starts one Batch Transform job per run and leaves the token to the callback function;
mock mode runs the reference segmentation here and answers the token itself
(``autonomous_driving.job``). Whatever goes wrong is reported at once with
``SendTaskFailure`` and its reason, so the execution takes its Catch path instead of waiting out
the task's timeout.
"""

from __future__ import annotations

import logging
from typing import Any

from autonomous_driving.contract import SEGMENT
from autonomous_driving.job import MOCK, SAGEMAKER, InvokeConfig, report_failure, segment
from shared import config
from shared.clients import aws_client
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(InvokeConfig)
    SEGMENT.check_input(event)
    token = event["task_token"]
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    clients = {
        "stepfunctions": aws_client("stepfunctions"),
        "sagemaker": aws_client("sagemaker"),
        "dynamodb": aws_client("dynamodb"),
    }
    try:
        return segment(
            token=token, run_id=run_id, execution_id=str(event["execution_id"]), cfg=cfg, clients=clients
        )
    # Whatever the error, Step Functions hears of it now (SendTaskFailure), not after TimeoutSeconds.
    except Exception as error:
        logger.exception("segmentation failed; reporting SendTaskFailure")
        mode = MOCK if cfg.mock_mode else SAGEMAKER
        return report_failure(
            clients["stepfunctions"], token, error, S3AccessPoint(cfg.output_bucket), run_id, mode
        )
