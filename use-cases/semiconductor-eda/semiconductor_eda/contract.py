"""The contract of UC6's own states, beside the polling skeleton's Discover, LoadChunk and RecordFailure."""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

# One manifest line and the run id; returns a small summary of the result document.
VALIDATE = StepContract(
    "Validate",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status", "output_key", "project"),
)
# The whole run: its id and start time (the dataset's partition lower bound).
REPORT = StepContract(
    "Report",
    requires=("run_id", "started_at"),
    produces=("run_id", "status", "totals", "report_uri", "markdown_uri"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, **{c.name: c for c in (VALIDATE, REPORT)}}
