"""The contract of UC9's own states, on top of the polling skeleton's Discover, LoadChunk and RecordFailure.

The per-file steps take one manifest line (with its ``kind``) and the run id; Segment and Annotate
work on the whole run. Each handler checks its input against its contract, and the catalog's
data-flow walk checks the state machine against the same contracts.
"""

from __future__ import annotations

import logging

from shared.polling.contract import FILE_ITEM, StepContract
from shared.polling.contract import STEPS as POLLING_STEPS

logger = logging.getLogger(__name__)

# The fields of each loaded chunk's files: the discovery function adds the ``kind`` the per-file
# Choice routes on (``video`` or ``pointcloud``).
ITEM_FIELDS: dict[str, tuple[str, ...]] = {"files": (*FILE_ITEM, "kind")}

# Both per-file steps return a summary of the result document, or (a cloud that passed QC and
# waits for the run's segmentation) its key, status and point count; nothing later reads them.
VIDEO_METADATA = StepContract(
    "VideoMetadata",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status", "output_key"),
)
POINTCLOUD_QC = StepContract(
    "PointCloudQc",
    requires=(*FILE_ITEM, "run_id"),
    produces=("key", "status"),
)
# A ``.waitForTaskToken`` task: ``requires`` is what the invoke function reads from its payload,
# ``produces`` what every token answer holds (the mock, the callback or the skipped case).
SEGMENT = StepContract(
    "Segment",
    requires=("task_token", "run_id", "execution_id"),
    produces=("status",),
)
# ``segmentation`` is the Segment answer, or what the skip and the failure Pass states wrote.
ANNOTATE = StepContract(
    "Annotate",
    requires=("run_id", "execution_id", "chunks_key", "segmentation"),
    produces=(
        "run_id",
        "execution_id",
        "status",
        "segmentation",
        "counts",
        "missing",
        "annotations_uri",
        "summary_uri",
    ),
)

STEPS: dict[str, StepContract] = {
    **POLLING_STEPS,
    **{c.name: c for c in (VIDEO_METADATA, POINTCLOUD_QC, SEGMENT, ANNOTATE)},
}
