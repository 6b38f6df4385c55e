"""The contract of UC7's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

QualityControl takes one manifest line (with its ``kind``) and the run id; Summarize reads the
run's manifest (``chunks_key``, set by Discover) and the result documents it points to, never a
key no state set; Report reads the summary document Summarize wrote (``summary_key``).
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

ITEM_FIELDS: dict[str, tuple[str, ...]] = {"files": (*FILE_ITEM, "kind")}

QUALITY_CONTROL = StepContract(
    "QualityControl",
    requires=(*FILE_ITEM, "kind", "run_id"),
    produces=("key", "status", "kind", "output_key"),
)
SUMMARIZE = StepContract(
    "Summarize",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "summary_key", "files", "by_status", "datasets"),
)
REPORT = StepContract(
    "Report",
    requires=("run_id", "summary_key"),
    produces=("run_id", "status"),
)

STEPS: dict[str, StepContract] = {
    **POLLING_STEPS,
    **{c.name: c for c in (QUALITY_CONTROL, SUMMARIZE, REPORT)},
}
