"""Stream consumer of logistics-ocr: each changed file through the Process step's work, in this process.

Invoked by a Kinesis event source mapping with ``ReportBatchItemFailures``; claims, dead letters and
outcomes are the shared consumer's (:mod:`shared.streaming.consumer`). The per-file work is
:func:`logistics_ocr.process.process_file`, the same the polling path's Process function runs, so
a record written by either path is the same version-keyed result.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

from logistics_ocr.process import MB, ProcessConfig, Services, SourceFile, process_file
from shared import config
from shared.change_events import ChangeEvent
from shared.clients import aws_client
from shared.documents.textract import Classified
from shared.language.extraction import StructuredExtractor
from shared.observability import stats, trace_lambda_handler
from shared.s3ap import S3AccessPoint
from shared.streaming.consumer import Consumer, ConsumerConfig, build_consumer, consume_batch

logger = logging.getLogger(__name__)


@functools.cache
def consumer() -> Consumer:
    """The shared consumer with UC12's per-file step, its clients created once per cold start."""
    cfg = config.load(ProcessConfig)
    s3 = aws_client("s3")
    source, output = S3AccessPoint(cfg.access_point, s3), S3AccessPoint(cfg.output_bucket, s3)
    services = Services(
        textract=Classified(aws_client("textract", cfg.textract_region or None)),
        rekognition=aws_client("rekognition"),
        extractor=StructuredExtractor(cfg.model_id, aws_client("bedrock-runtime")),
    )

    def process(change: ChangeEvent) -> Mapping[str, Any]:
        fingerprint = change.fingerprint
        file = SourceFile(change.key, fingerprint.etag, fingerprint.size, fingerprint.last_modified)
        return process_file(
            source, output, file, run_id=change.run_id, services=services, max_bytes=cfg.max_document_mib * MB
        )

    return build_consumer(config.load(ConsumerConfig), process)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = consume_batch(event, consumer())
    # Emitted on every batch, zero included, so the stack's dead-letter alarm watches it.
    stats().put_metric("RecordsDeadLettered", report.dead_lettered, "Count")
    return report.response()
