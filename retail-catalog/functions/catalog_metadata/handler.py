"""Catalog metadata state: Bedrock Converse turns the labels into a catalog entry.

It reads no file: the labels from the tagging state are its whole input. A FAILED input is
passed on unchanged so the quality state can record why.
"""

from __future__ import annotations

import logging
from typing import Any

from retail_catalog import ImageRejectedError, generate_metadata
from retail_catalog.contract import CATALOG_METADATA
from retail_catalog.metadata import labels_from_dicts
from retail_catalog.settings import MetadataConfig
from shared import config
from shared.errors import SUCCEEDED, failed_result
from shared.observability import stats, trace_lambda_handler
from shared.polling.contract import carry

logger = logging.getLogger(__name__)


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(MetadataConfig)
    CATALOG_METADATA.check_input(event)
    if event["status"] != SUCCEEDED:
        return {**carry(event, "reason", "error"), "status": event["status"]}
    tagging = event.get("tagging")
    if not isinstance(tagging, dict) or not isinstance(tagging.get("labels"), list):
        raise ValueError("a SUCCEEDED tagging result must carry tagging.labels")
    try:
        metadata = generate_metadata(
            event["key"], labels_from_dicts(tagging["labels"]), model_id=cfg.model_id
        )
    except ImageRejectedError as error:
        stats().failed()
        return failed_result(error.reason, error=type(error).__name__, **carry(event, "tagging"))
    stats().processed(1)
    return {**carry(event), "status": SUCCEEDED, "tagging": tagging, "metadata": metadata.to_dict()}
