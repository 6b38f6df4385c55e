"""Image tagging state: Rekognition DetectLabels on one file version.

A per-file problem becomes ``status: FAILED`` with a reason (the later states pass it on and the
quality state records it); throttling raises so that the state's Retry policy handles it.
"""

from __future__ import annotations

import logging
from typing import Any

from retail_catalog import ImageRejectedError, read_image, tag_image
from retail_catalog.contract import IMAGE_TAGGING
from retail_catalog.settings import TaggingConfig
from shared import config
from shared.errors import SUCCEEDED, failed_result
from shared.observability import stats, trace_lambda_handler
from shared.polling.contract import carry
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(TaggingConfig)
    IMAGE_TAGGING.check_input(event)
    source = S3AccessPoint(cfg.access_point)
    try:
        data = read_image(source, event["key"], event["etag"])
        tagging = tag_image(data, confidence_threshold=cfg.confidence_threshold)
    except ImageRejectedError as error:
        stats().failed()
        return failed_result(error.reason, error=type(error).__name__, **carry(event))
    stats().processed(1, len(data))
    return {**carry(event), "status": SUCCEEDED, "tagging": tagging.to_dict()}
