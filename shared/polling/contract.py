"""The input/output contract of the skeleton's polling states, and the file fields every step carries.

Each handler checks its input against ``requires`` (and fails loudly, naming the missing keys),
and the contract tests walk every use case's state machine to check that every path a state reads
was produced by the state before it. ``produces`` lists keys present in every output;
``produces_on_success`` only when ``status`` is ``SUCCEEDED``, which is why later steps read those
keys only after checking the status. A use case declares its own per-file steps with
:class:`StepContract` and passes file fields on with :func:`carry`.
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
    """What one state needs in its input and what it guarantees in its output."""

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


# One manifest line, and the fields a per-file step receives and passes on.
FILE_ITEM = ("key", "etag", "size", "last_modified")
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
        "deferred",
        "files_to_process",
        "chunk_count",
        "mode",
        "in_flight",
    ),
)
LOAD_CHUNK = StepContract("LoadChunk", requires=("action", "run_id", "chunk"), produces=("run_id", "files"))
# The Catch target of the per-file branch: the failed step's file fields and the caught error
# (``{"Error": ..., "Cause": ...}``, as a Catch's ResultPath stores it).
RECORD_FAILURE = StepContract(
    "RecordFailure",
    requires=("action", "key", "etag", "run_id", "caught"),
    produces=("key", "etag", "run_id", "status", "output_key", "reason", "error"),
)

STEPS: dict[str, StepContract] = {c.name: c for c in (DISCOVERY, LOAD_CHUNK, RECORD_FAILURE)}


def carry(event: Mapping[str, Any], *extra: str) -> dict[str, Any]:
    """The file fields (and ``extra`` keys present) copied from one step's input to its output."""
    return {k: event[k] for k in (*FILE_ITEM, "run_id", *extra) if k in event}
