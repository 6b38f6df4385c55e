"""One file through the whole retail pipeline: tag, then metadata, then quality, then the result.

:func:`process_image` is what the stream consumer calls per change event. The polling path runs the
same three steps as separate Step Functions states (see the handlers) and ends with the same
skeleton writer (:func:`shared.polling.results.write_result`), so both paths write identical
documents under identical keys.

Failure rule: a problem with *this file* (not an image, refused by a service, vanished, changed
since it was listed) returns a FAILED result with a reason and writes a FAILED document, so the
version is not retried until the file changes. A transient or deployment problem raises.
"""

from __future__ import annotations

import logging
from typing import Any

from retail_catalog.errors import ImageRejectedError
from retail_catalog.images import QualityReport, QualityRules, check_quality
from retail_catalog.metadata import CatalogMetadata, generate_metadata
from retail_catalog.tagging import TaggingResult, tag_image
from shared.errors import (
    FAILED,
    SUCCEEDED,
    ObjectNotFoundError,
    ObjectTooLargeError,
    PatternError,
    StorageError,
    failed_result,
)
from shared.observability import stats, xray_subsegment
from shared.polling.keys import output_key
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint, validate_key

logger = logging.getLogger(__name__)

# Larger files are refused before their body is read; the quality rule flags anything over 20 MiB.
MAX_SOURCE_BYTES = 50 * 1024 * 1024


def read_image(source: S3AccessPoint, key: str, etag: str, *, max_bytes: int = MAX_SOURCE_BYTES) -> bytes:
    """The bytes of the listed version of ``key``.

    The read is pinned with If-Match to ``etag``. A file that vanished, changed since it was listed,
    or is too large becomes :class:`ImageRejectedError`: a newer version has its own change event,
    so this version is finished. Access problems and other storage errors propagate.
    """
    try:
        return source.get_bytes(key, if_match=etag or None, max_bytes=max_bytes)
    except ObjectNotFoundError as error:
        raise ImageRejectedError(f"the file no longer exists: {error.reason}", code="NotFound") from error
    except ObjectTooLargeError as error:
        raise ImageRejectedError(error.reason, code="TooLarge") from error
    except StorageError as error:
        if error.details.get("code") == "PreconditionFailed":
            raise ImageRejectedError(
                "the file changed after it was listed (ETag no longer matches); "
                "the newer version is processed on its own",
                code="PreconditionFailed",
            ) from error
        raise


def process_image(
    source: S3AccessPoint,
    key: str,
    etag: str,
    *,
    output_bucket: str,
    model_id: str,
    confidence_threshold: float,
    s3_client: Any | None = None,
    rekognition: Any | None = None,
    bedrock: Any | None = None,
    rules: QualityRules | None = None,
) -> dict[str, Any]:
    """Tag, describe and quality-check one file version and write its result document.

    Returns ``{"status": "SUCCEEDED", "key", "output_key", ...}`` or, for a problem with this file,
    ``{"status": "FAILED", "key", "output_key", "reason", ...}``. Raises
    :class:`~retail_catalog.errors.TransientServiceError` (retry later) and deployment errors.
    """
    output = S3AccessPoint(output_bucket, s3_client or source.client)
    try:
        validate_key(key)
    except PatternError as error:
        return failed_result(error.reason, key=key, output_key=None, error=type(error).__name__)
    out_key = output_key(key, etag)
    tagging: TaggingResult | None = None
    metadata: CatalogMetadata | None = None
    try:
        with xray_subsegment("process_image", {"stage": "read"}):
            data = read_image(source, key, etag)
        tagging = tag_image(data, confidence_threshold=confidence_threshold, rekognition=rekognition)
        metadata = generate_metadata(key, tagging.labels, model_id=model_id, bedrock=bedrock)
        quality: QualityReport = check_quality(data, rules, key=key)
    except ImageRejectedError as error:
        logger.warning("file %s (etag %s) rejected: %s", key, etag, error.reason)
        document = result_document(
            key=key,
            etag=etag,
            status=FAILED,
            sections={
                "tagging": tagging.to_dict() if tagging else None,
                "metadata": metadata.to_dict() if metadata else None,
            },
            reason=error.reason,
            error=type(error).__name__,
            source=source.target,
        )
        write_result(output, document)
        stats().failed()
        return failed_result(error.reason, key=key, etag=etag, output_key=out_key, error=type(error).__name__)
    document = result_document(
        key=key,
        etag=etag,
        status=SUCCEEDED,
        sections={"tagging": tagging.to_dict(), "metadata": metadata.to_dict(), "quality": quality.to_dict()},
        source=source.target,
    )
    write_result(output, document)
    stats().processed(1, len(data))
    return {
        "status": SUCCEEDED,
        "key": key,
        "etag": etag,
        "output_key": out_key,
        "quality_passed": quality.passed,
        "label_count": len(tagging.labels),
    }
