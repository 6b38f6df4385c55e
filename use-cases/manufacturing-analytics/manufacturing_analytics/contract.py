"""The contract of UC3's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

The per-file steps take one manifest line (with its ``kind``) and the run id; Report works on the
whole run through the chunk list Discover wrote. Each handler checks its input against its
contract, and the catalog's data-flow walk checks the state machine against the same contracts.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

# The discovery function adds the ``kind`` the per-file Choice routes on (``sensor`` or ``image``).
ITEM_FIELDS: dict[str, tuple[str, ...]] = {"files": (*FILE_ITEM, "kind")}

SENSOR_LOG = StepContract(
    "SensorLog", requires=(*FILE_ITEM, "run_id"), produces=("key", "status", "output_key")
)
INSPECTION = StepContract(
    "Inspection", requires=(*FILE_ITEM, "run_id"), produces=("key", "status", "output_key")
)
REPORT = StepContract(
    "Report",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "window", "counts", "findings", "bytes_scanned", "report_keys"),
)

STEPS: dict[str, StepContract] = {**POLLING_STEPS, **{c.name: c for c in (SENSOR_LOG, INSPECTION, REPORT)}}
