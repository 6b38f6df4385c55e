"""The contract of UC1's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

CollectAcl takes one manifest line and the run id; Analyze and Report work on the whole run. Each
handler checks its input against its contract, and the catalog's data-flow walk checks the state
machine against the same contracts.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

COLLECT_ACL = StepContract(
    "CollectAcl",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status", "output_key"),
)
ANALYZE = StepContract(
    "Analyze",
    requires=("run_id", "manifest_key", "started_at"),
    produces=("run_id", "status", "analysis_key", "totals", "rules"),
)
REPORT = StepContract(
    "Report",
    requires=("run_id", "analysis_key"),
    produces=("run_id", "status", "report_markdown", "report_json", "notification", "totals"),
)

STEPS: dict[str, StepContract] = {
    **POLLING_STEPS,
    **{c.name: c for c in (COLLECT_ACL, ANALYZE, REPORT)},
}
