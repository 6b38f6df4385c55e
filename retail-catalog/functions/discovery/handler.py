"""Discovery: list the access point, write the run manifest, return pointers (never the file list).

Two actions, both owned here because this function owns the manifest format:

* ``discover`` (default): the first state of the polling run;
* ``load_chunk``: the first state of each Distributed Map child, which turns one chunk descriptor
  into the (small) list of files that the child then tags, describes and checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from retail_catalog.contract import DISCOVERY, LOAD_CHUNK
from retail_catalog.discovery import Chunk, PendingFilter, StateIndex, discover, load_chunk, new_run_id
from retail_catalog.settings import DiscoveryConfig
from shared import config
from shared.observability import append_log_keys, stats, trace_lambda_handler
from shared.s3ap import ObjectInfo, S3AccessPoint

logger = logging.getLogger(__name__)


def state_hooks(table: str) -> tuple[PendingFilter | None, Callable[[str], bool] | None]:
    """With streaming on: skip versions the stream already completed, and mark deleted files deleted."""
    if not table:
        return None, None
    from shared.change_events import Fingerprint, utc_stamp
    from shared.state import StateStore

    store = StateStore(table)
    listing_began = utc_stamp()  # an event detected after this (a re-creation) keeps its file

    def completed_keys(batch: Sequence[ObjectInfo]) -> set[str]:
        return store.completed_keys((obj.key, Fingerprint.of(obj)) for obj in batch)

    def mark_deleted(key: str) -> bool:
        return store.mark_gone(key, detected_at=listing_began)

    return StateIndex(completed_keys), mark_deleted


@trace_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = config.load(DiscoveryConfig)
    output = S3AccessPoint(cfg.output_bucket)
    if event.get("action") == "load_chunk":
        LOAD_CHUNK.check_input(event)
        files = load_chunk(output, Chunk.from_dict(event["chunk"]))
        return {"run_id": event["run_id"], "files": files}
    if "run_id" not in event or not event["run_id"]:
        event = {**event, "run_id": new_run_id()}
    DISCOVERY.check_input(event)
    append_log_keys(run_id=str(event["run_id"]))
    state_filter, mark_deleted = state_hooks(cfg.state_table)
    result = discover(
        S3AccessPoint(cfg.access_point, output.client),
        output,
        run_id=str(event["run_id"]),
        prefix=str(event.get("prefix", cfg.source_prefix)),
        suffixes=cfg.suffixes,
        chunk_size=cfg.chunk_size,
        state_filter=state_filter,
        mark_deleted=mark_deleted,
    )
    stats().processed(result.listed)
    # Deleted files healed by this run (results removed, state marked), zero included.
    stats().put_metric("DeletionsReconciled", result.deletions_reconciled, "Count")
    return result.to_dict()
