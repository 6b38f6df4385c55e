"""The contract of UC10's own state, beside the polling skeleton's Discover, LoadChunk and RecordFailure."""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

# One manifest line and the run id; returns a small summary of the result document.
PROCESS = StepContract(
    "Process",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status", "output_key", "kind"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, PROCESS.name: PROCESS}
