"""Stream consumer: process change events from Kinesis with per-shard fail-fast and a dead-letter table.

Invoked by a Kinesis event source mapping with ``ReportBatchItemFailures``. Returns
``{"batchItemFailures": [...]}``: the records that really failed, each handled on its own merit.

A file is processed by calling the retail domain code (tag, then metadata, then quality) in this
process rather than by invoking the polling path's Lambdas. That gives one retry boundary (the
record), no double billing of a waiting caller plus its callees, and one place where idempotency
is anchored: the fingerprint-conditioned claim in the state table. See ``retail-catalog/STREAMING.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from typing import Any

from retail_catalog.pipeline import process_image
from retail_catalog.settings import DEFAULT_CONFIDENCE_THRESHOLD
from shared import config
from shared.change_events import ChangeEvent
from shared.clients import aws_client
from shared.config import env
from shared.observability import stats, trace_lambda_handler
from shared.s3ap import S3AccessPoint
from shared.state import DeadLetterOverflow, DeadLetterStore, StateStore
from shared.stream_consumer import Consumer

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ConsumerConfig:
    """The consumer's environment (names fixed by the template)."""

    access_point: str = env("ACCESS_POINT")
    state_table: str = env("STATE_TABLE")
    dlq_table: str = env("DLQ_TABLE")
    output_bucket: str = env("OUTPUT_BUCKET")
    bedrock_model_id: str = env("BEDROCK_MODEL_ID")
    confidence_threshold: float = env("CONFIDENCE_THRESHOLD", DEFAULT_CONFIDENCE_THRESHOLD)
    claim_timeout_seconds: float = env("CLAIM_TIMEOUT_SECONDS", 900.0)
    dlq_ttl_days: float = env("DLQ_TTL_DAYS", 14.0)


@functools.cache
def build_consumer(cfg: ConsumerConfig) -> Consumer:
    """Wire the consumer to DynamoDB and the retail domain code (once per cold start)."""
    dynamodb = aws_client("dynamodb")
    s3 = aws_client("s3")
    source = S3AccessPoint(cfg.access_point, s3)
    # One client per service for the life of the environment, not one per record.
    rekognition = aws_client("rekognition")
    bedrock = aws_client("bedrock-runtime")

    def process(event: ChangeEvent) -> Mapping[str, Any]:
        return process_image(
            source,
            event.key,
            event.fingerprint.etag,
            output_bucket=cfg.output_bucket,
            model_id=cfg.bedrock_model_id,
            confidence_threshold=cfg.confidence_threshold,
            rekognition=rekognition,
            bedrock=bedrock,
        )

    return Consumer(
        state=StateStore(cfg.state_table, dynamodb),
        # A dead letter too large for DynamoDB keeps its record under dead-letters/ in the output bucket.
        dead_letters=DeadLetterStore(
            cfg.dlq_table,
            dynamodb,
            ttl_days=cfg.dlq_ttl_days,
            overflow=DeadLetterOverflow(cfg.output_bucket, s3),
        ),
        process=process,
        claim_timeout_seconds=cfg.claim_timeout_seconds,
    )


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("expected a Kinesis event with a 'Records' list")
    report = build_consumer(config.load(ConsumerConfig)).consume(records)
    # Emitted on every batch, zero included, in this function's own code (not in shared/) so the
    # metric registry ties it to this function; the stack's dead-letter alarm watches it.
    stats().put_metric("RecordsDeadLettered", report.dead_lettered, "Count")
    logger.info("consumed %d record(s): %s; %d to retry", len(records), report.outcomes, len(report.failures))
    return report.response()
