"""Quality check state: Pillow header and integrity checks, then the result document.

This is the last state per file, so it also writes the result (success or the reason for a
failure) under the key derived from the full source key and the ETag; that document is what the
next discovery run treats as "done".
"""

from __future__ import annotations

import logging
from typing import Any

from retail_catalog import ImageRejectedError, check_quality, read_image
from retail_catalog.contract import QUALITY_CHECK
from retail_catalog.settings import QualityConfig
from shared import config
from shared.errors import FAILED, SUCCEEDED
from shared.observability import stats, trace_lambda_handler
from shared.polling.keys import output_key
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(QualityConfig)
    QUALITY_CHECK.check_input(event)
    source = S3AccessPoint(cfg.access_point)
    output = S3AccessPoint(cfg.output_bucket, source.client)
    key, etag = str(event["key"]), str(event["etag"])
    out_key = output_key(key, etag)

    def document(status: str, **parts: Any) -> dict[str, Any]:
        return result_document(
            key=key, etag=etag, status=status, source=source.target,
            reason=parts.pop("reason", None), error=parts.pop("error", None),
            sections={"tagging": event.get("tagging"), **parts},
        )  # fmt: skip

    summary = {"key": key, "etag": etag, "run_id": event["run_id"]}
    failed = event["status"] != SUCCEEDED
    reason = str(event.get("reason", "")) if failed else ""
    error_type = str(event.get("error") or "") if failed else ""
    quality = None
    if not reason:
        try:
            data = read_image(source, key, etag)
            quality = check_quality(data, cfg.rules(), key=key)
        except ImageRejectedError as error:
            reason, error_type = error.reason, type(error).__name__
    if reason:
        write_result(output, document(FAILED, reason=reason, error=error_type or None))
        stats().failed()
        return {**summary, "status": FAILED, "output_key": out_key, "reason": reason}
    assert quality is not None
    write_result(output, document(SUCCEEDED, metadata=event.get("metadata"), quality=quality.to_dict()))
    stats().processed(1, quality.size_bytes)
    return {
        **summary,
        "status": SUCCEEDED,
        "output_key": out_key,
        "quality_passed": quality.passed,
    }
