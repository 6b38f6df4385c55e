"""The contract of the retail-catalog per-file states, on top of the polling skeleton's own.

The skeleton (:mod:`shared.polling.contract`) owns Discover, LoadChunk and RecordFailure; this
module adds the three retail steps and the retail discovery defaults.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

# Discovery's retail defaults, here rather than in the discovery module so that reading the
# configuration (retail_catalog.settings, imported by every polling function) stays cheap.
DEFAULT_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

IMAGE_TAGGING = StepContract(
    "ImageTagging",
    requires=(*FILE_ITEM, "run_id"),
    produces=(*FILE_ITEM, "run_id", "status"),
    produces_on_success=("tagging",),
)
CATALOG_METADATA = StepContract(
    "CatalogMetadata",
    requires=(*FILE_ITEM, "run_id", "status"),
    produces=(*FILE_ITEM, "run_id", "status"),
    produces_on_success=("tagging", "metadata"),
)
QUALITY_CHECK = StepContract(
    "QualityCheck",
    requires=(*FILE_ITEM, "run_id", "status"),
    produces=("key", "etag", "run_id", "status", "output_key"),
)

STEPS: dict[str, StepContract] = {
    **POLLING_STEPS,
    **{c.name: c for c in (IMAGE_TAGGING, CATALOG_METADATA, QUALITY_CHECK)},
}
