"""The contract of UC2's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

Extract takes one manifest line and the run id; it returns the result summary, or (a scan that
goes to an asynchronous Textract job) the file fields with ``status: ASYNC``, the pages and the
Textract API family, which WaitForTextract passes to the start function with the task token. The
callback's answer (``job``) goes to Collect; Report reads the run's results from the manifest.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

# Every answer carries the file fields on, and ``ocr_pages``/``textract_kind`` (empty unless
# ``status`` is ASYNC), so the wait and the Catch read only what Extract produced.
EXTRACT = StepContract(
    "Extract",
    requires=(*FILE_ITEM, "run_id"),
    produces=(*FILE_ITEM, "run_id", "status", "ocr_pages", "textract_kind"),
)
# A ``.waitForTaskToken`` task: ``requires`` is what the start function reads from its payload,
# ``produces`` what the callback's SendTaskSuccess holds.
WAIT_FOR_TEXTRACT = StepContract(
    "WaitForTextract",
    requires=("task_token", "execution_id", "run_id", *FILE_ITEM, "ocr_pages", "textract_kind"),
    produces=("job_id", "status", "kind", "staging_bucket", "staging_key", "page_map"),
)
COLLECT = StepContract(
    "Collect",
    requires=("action", *FILE_ITEM, "run_id", "job"),
    produces=("key", "etag", "status"),
)
REPORT = StepContract(
    "Report",
    requires=("run_id", "chunks_key"),
    produces=("run_id", "documents", "by_status", "pages", "pages_skipping_ocr", "report_key"),
)

STEPS: dict[str, StepContract] = {
    **POLLING_STEPS,
    **{c.name: c for c in (EXTRACT, WAIT_FOR_TEXTRACT, COLLECT, REPORT)},
}
