"""The contract of UC13's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

``Paper`` takes one manifest line and the run id and returns a small summary of the result document
it wrote; ``Index`` works on the whole run: it reads the run's chunk list (set by Discover) and each
file's result document, never a key no state set.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

PAPER = StepContract(
    "Paper",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status", "output_key"),
)
INDEX = StepContract(
    "Index",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "status", "papers", "failed", "index_key", "graph_key", "summary_key", "changes"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, **{c.name: c for c in (PAPER, INDEX)}}
