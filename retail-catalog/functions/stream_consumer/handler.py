"""Stream consumer of retail-catalog: tag, describe and check each changed product image.

Invoked by a Kinesis event source mapping with ``ReportBatchItemFailures``; returns
``{"batchItemFailures": [...]}``. Claims, dead letters and outcomes are the shared consumer's
(:mod:`shared.streaming.consumer`); this module only hands it retail's per-file processor.

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
from shared.streaming.consumer import Consumer, ConsumerConfig, build_consumer, consume_batch

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RetailProcessingConfig:
    """What retail's per-file processing reads from the environment (names fixed by the template)."""

    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    bedrock_model_id: str = env("BEDROCK_MODEL_ID")
    confidence_threshold: float = env("CONFIDENCE_THRESHOLD", DEFAULT_CONFIDENCE_THRESHOLD)


@functools.cache
def consumer() -> Consumer:
    """The shared consumer with retail's processor, its clients created once per cold start."""
    cfg = config.load(RetailProcessingConfig)
    source = S3AccessPoint(cfg.access_point, aws_client("s3"))
    rekognition = aws_client("rekognition")
    bedrock = aws_client("bedrock-runtime")

    def process(file: ChangeEvent) -> Mapping[str, Any]:
        return process_image(
            source,
            file.key,
            file.fingerprint.etag,
            output_bucket=cfg.output_bucket,
            model_id=cfg.bedrock_model_id,
            confidence_threshold=cfg.confidence_threshold,
            rekognition=rekognition,
            bedrock=bedrock,
        )

    return build_consumer(config.load(ConsumerConfig), process)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = consume_batch(event, consumer())
    # Emitted on every batch, zero included, in this function's own code (not in shared/) so the
    # metric registry ties it to this function; the stack's dead-letter alarm watches it.
    stats().put_metric("RecordsDeadLettered", report.dead_lettered, "Count")
    return report.response()
