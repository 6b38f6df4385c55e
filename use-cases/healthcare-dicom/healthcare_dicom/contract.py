"""UC5's own states (Deidentify, Summarize), beside the skeleton's Discover, LoadChunk, RecordFailure."""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

DEIDENTIFY = StepContract(
    "Deidentify",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status", "output_key"),
)
SUMMARIZE = StepContract(
    "Summarize",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "status", "files", "succeeded", "failed", "pending", "summary_uri"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, **{c.name: c for c in (DEIDENTIFY, SUMMARIZE)}}
