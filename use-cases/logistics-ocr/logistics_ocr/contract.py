"""The contract of UC12's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

Process takes one manifest line and the run id and returns the result summary (its FAILED results
included); Report reads the run's results through the manifest chunks Discover wrote.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

PROCESS = StepContract(
    "Process",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "etag", "status", "output_key"),
)
REPORT = StepContract(
    "Report",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "documents", "by_status", "labels_per_location", "report_key"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, **{c.name: c for c in (PROCESS, REPORT)}}
