"""The contract of UC8's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

Inspect takes one manifest line and the run id and writes that file's result document; Report
works on the whole run, from the chunk list discovery wrote. Each handler checks its input against
its contract, and the catalog's data-flow walk checks the state machine against the same contracts.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

INSPECT = StepContract(
    "Inspect",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status", "output_key"),
)
REPORT = StepContract(
    "Report",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "status", "files", "succeeded", "failed", "pending", "report_uri"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, **{c.name: c for c in (INSPECT, REPORT)}}
