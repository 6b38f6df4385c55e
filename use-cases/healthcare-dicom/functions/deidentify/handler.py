"""Deidentify: one DICOM instance's header (ranged reads), PHI findings, free-text PHI, de-identified copy.

See ``healthcare_dicom.deidentify``. An unreadable file is a FAILED result naming what is wrong;
access and storage faults raise and the per-file Catch records them; Comprehend Medical throttling
is retried by the state (TransientServiceError).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from healthcare_dicom.contract import DEIDENTIFY
from healthcare_dicom.deidentify import (
    DeidentifyConfig,
    Reading,
    comprehend_medical_detector,
    phi_region,
    process_instance,
    secret_key,
)
from healthcare_dicom.files import SourceFile
from shared import config
from shared.clients import aws_client
from shared.formats.ranged import RangedReader
from shared.observability import append_log_keys, trace_lambda_handler
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@functools.cache
def _key(secret_id: str) -> bytes:
    return secret_key(secret_id)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DeidentifyConfig)
    DEIDENTIFY.check_input(event)
    file = SourceFile.from_event(event)
    append_log_keys(run_id=str(event["run_id"]), file_key=file.key)
    s3 = aws_client("s3")
    source = S3AccessPoint(cfg.access_point, s3)

    def opener(item: SourceFile) -> Reading:
        reader = RangedReader(
            source, item.key, etag=item.etag, size=item.size, block_size=cfg.read_block_bytes
        )
        return Reading(reader, lambda: reader.stats.as_dict())

    def fetch(item: SourceFile, limit: int) -> bytes:
        return source.get_bytes(item.key, if_match=item.etag, max_bytes=limit)

    region, reason = phi_region(cfg)
    return process_instance(
        opener,
        fetch,
        S3AccessPoint(cfg.output_bucket, s3),
        file,
        run_id=str(event["run_id"]),
        source=source.target,
        cfg=cfg,
        deid_key=lambda: _key(cfg.key_secret_id),
        detect=comprehend_medical_detector(region) if region else None,
        detect_reason=reason,
    )
