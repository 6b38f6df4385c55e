"""The retail-catalog domain: image tagging, catalog metadata, quality checks and result keys.

Both processing paths use these functions: the stream consumer calls :func:`process_image` per
change event, and the polling state machine runs :func:`tag_image`, :func:`generate_metadata` and
:func:`check_quality` as separate states before :func:`write_result`.
"""

from __future__ import annotations

from shared.retail.errors import ImageRejectedError, TransientServiceError
from shared.retail.images import QualityReport, QualityRules, check_quality, read_header
from shared.retail.keys import output_key
from shared.retail.metadata import CatalogMetadata, generate_metadata
from shared.retail.pipeline import process_image, read_image, result_document, write_result
from shared.retail.tagging import Label, TaggingResult, tag_image

__all__ = [
    "CatalogMetadata",
    "ImageRejectedError",
    "Label",
    "QualityReport",
    "QualityRules",
    "TaggingResult",
    "TransientServiceError",
    "check_quality",
    "generate_metadata",
    "output_key",
    "process_image",
    "read_header",
    "read_image",
    "result_document",
    "tag_image",
    "write_result",
]
