"""The contract of UC14's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

Evidence takes one manifest line and the run id and writes that version's result; Assess reads the
run's files from the manifest chunks Discover wrote, and each claim's results from the keys the
Evidence step set.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

EVIDENCE = StepContract(
    "Evidence",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "etag", "status"),
)
ASSESS = StepContract(
    "Assess",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "claims", "by_recommendation", "summary_key"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, **{c.name: c for c in (EVIDENCE, ASSESS)}}
