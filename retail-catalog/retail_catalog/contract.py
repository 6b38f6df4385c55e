"""The input/output contract of every polling state, in one place.

Each handler checks its input against ``requires`` (and fails loudly, naming the missing keys),
and the tests check that every path the state machine reads was produced by the state before it.
``produces`` lists keys present in every output; ``produces_on_success`` only when ``status`` is
``SUCCEEDED``, which is why later steps read those keys only after checking the status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import PatternError

logger = logging.getLogger(__name__)


class ContractError(PatternError, ValueError):
    """A step received an input without a key its contract requires."""


@dataclass(frozen=True)
class StepContract:
    name: str
    requires: tuple[str, ...]
    produces: tuple[str, ...]
    produces_on_success: tuple[str, ...] = ()

    def check_input(self, event: Any) -> Mapping[str, Any]:
        if not isinstance(event, Mapping):
            raise ContractError(f"{self.name} expects a JSON object, got {type(event).__name__}")
        missing = [key for key in self.requires if key not in event]
        if missing:
            raise ContractError(f"{self.name} input lacks {missing}", step=self.name, missing=missing)
        return event


FILE_ITEM = ("key", "etag", "size", "last_modified")
# Discovery's defaults, here rather than in the discovery module so that reading the configuration
# (retail_catalog.settings, imported by every polling function) does not import the discovery code.
DEFAULT_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
DEFAULT_CHUNK_SIZE = 100

DISCOVERY = StepContract(
    "Discover",
    requires=("run_id",),
    produces=(
        "run_id",
        "bucket",
        "manifest_key",
        "chunks_key",
        "listed",
        "skipped",
        "files_to_process",
        "chunk_count",
        "mode",
    ),
)
LOAD_CHUNK = StepContract("LoadChunk", requires=("action", "run_id", "chunk"), produces=("run_id", "files"))
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
    c.name: c for c in (DISCOVERY, LOAD_CHUNK, IMAGE_TAGGING, CATALOG_METADATA, QUALITY_CHECK)
}


def carry(event: Mapping[str, Any], *extra: str) -> dict[str, Any]:
    """The file fields (and ``extra`` keys present) copied from one step's input to its output."""
    return {k: event[k] for k in (*FILE_ITEM, "run_id", *extra) if k in event}
