"""The retail-catalog domain: image tagging, catalog metadata, quality checks and result keys.

Both processing paths use these functions: the stream consumer calls :func:`process_image` per
change event, and the polling state machine runs :func:`tag_image`, :func:`generate_metadata` and
:func:`check_quality` as separate states. Result keys and documents are the polling skeleton's
(:mod:`shared.polling`).

The names below are resolved on first use (PEP 562), not at import: importing one submodule, such
as ``retail_catalog.contract`` in the discovery function, must not compile the whole domain on a
cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.lazy import deferred_exports

if TYPE_CHECKING:
    from retail_catalog.errors import ImageRejectedError, TransientServiceError
    from retail_catalog.images import QualityReport, QualityRules, check_quality, read_header
    from retail_catalog.metadata import CatalogMetadata, generate_metadata
    from retail_catalog.pipeline import process_image, read_image
    from retail_catalog.tagging import Label, TaggingResult, tag_image

_HOMES = {
    "ImageRejectedError": "errors",
    "TransientServiceError": "errors",
    "QualityReport": "images",
    "QualityRules": "images",
    "check_quality": "images",
    "read_header": "images",
    "CatalogMetadata": "metadata",
    "generate_metadata": "metadata",
    "process_image": "pipeline",
    "read_image": "pipeline",
    "Label": "tagging",
    "TaggingResult": "tagging",
    "tag_image": "tagging",
}

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
    "process_image",
    "read_header",
    "read_image",
    "tag_image",
]


__getattr__, __dir__ = deferred_exports(__name__, globals(), _HOMES)
