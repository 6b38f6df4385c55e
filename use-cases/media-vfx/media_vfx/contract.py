"""The contract of UC4's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

FrameCheck takes one manifest line and the run id; ReportSequences, SubmitRender, RenderStatus and
Recheck work on the whole run. Each handler checks its input against its contract, and the
catalog's data-flow walk checks the state machine against the same contracts.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

FRAME_CHECK = StepContract(
    "FrameCheck", requires=(*FILE_ITEM, "run_id"), produces=("key", "status", "output_key")
)
REPORT_SEQUENCES = StepContract(
    "ReportSequences",
    requires=("action", "run_id", "chunks_key"),
    produces=("run_id", "sequences", "flagged_frames", "frames_to_render", "render_request_key", "index_key"),
)
SUBMIT_RENDER = StepContract(
    "SubmitRender",
    requires=("action", "run_id", "render_request_key"),
    produces=("state", "jobs", "submitted_at", "polls"),
)
RENDER_STATUS = StepContract(
    "RenderStatus",
    requires=("action", "render"),
    produces=("state", "jobs", "submitted_at", "polls", "elapsed_seconds"),
)
RECHECK = StepContract(
    "Recheck",
    requires=("action", "run_id", "render_request_key", "render"),
    produces=("run_id", "render_state", "frames_fixed", "frames_still_bad", "rerender_key"),
)

STEPS: dict[str, StepContract] = {
    **POLLING_STEPS,
    **{c.name: c for c in (FRAME_CHECK, REPORT_SEQUENCES, SUBMIT_RENDER, RENDER_STATUS, RECHECK)},
}
