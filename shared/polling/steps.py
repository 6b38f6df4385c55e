"""The discovery function of every polling state machine, as one call: ``handle(event, ...)``.

A use case's discovery handler builds its clients and configuration once and passes each event
here. Three actions share the function because it owns the manifest format and already holds the
output bucket's write permission:

* ``discover`` (default): the first state of a run. It stops at once when another run of the same
  state machine is in flight, else lists, filters and budgets, and writes the manifest;
* ``load_chunk``: the first state of each Distributed Map child, turning one chunk descriptor into
  the (small) list of files the child processes;
* ``record_failure``: the Catch target of the per-file branch, writing the FAILED document.

Metrics: discovery emits ``FilesListed``, ``FilesSkipped``, ``FilesDeferred``,
``DeletionsReconciled`` and ``RunsInFlightSkipped``, never ``FilesProcessed`` (it processes no
file); ``record_failure`` counts a handled failure (``ProcessingErrors``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.clients import aws_client
from shared.observability import append_log_keys, stats
from shared.polling.contract import DISCOVERY, LOAD_CHUNK, RECORD_FAILURE, ContractError
from shared.polling.discovery import (
    Chunk,
    DiscoveryResult,
    PendingFilter,
    StateIndex,
    discover,
    in_flight_result,
    load_chunk,
    new_run_id,
)
from shared.polling.overlap import RunIdentity, earlier_run_in_flight
from shared.polling.results import record_failure
from shared.polling.settings import PollingConfig
from shared.s3ap import ObjectInfo, S3AccessPoint

logger = logging.getLogger(__name__)

StateHooks = tuple[PendingFilter | None, Callable[[str], bool] | None]


def state_hooks(table: str) -> StateHooks:
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


def run_discovery(
    event: Mapping[str, Any],
    cfg: PollingConfig,
    *,
    source: S3AccessPoint,
    output: S3AccessPoint,
    sfn: Any | None = None,
) -> DiscoveryResult:
    """The ``discover`` action: the overlap check, then :func:`~shared.polling.discovery.discover`."""
    if not event.get("run_id"):
        event = {**event, "run_id": new_run_id()}
    DISCOVERY.check_input(event)
    run_id = str(event["run_id"])
    append_log_keys(run_id=run_id)
    run = RunIdentity.from_event(event)
    other = ""
    if run is not None:
        if sfn is None:
            raise ContractError(
                "a run started by Step Functions needs a Step Functions client for the overlap check"
            )
        other = earlier_run_in_flight(sfn, run)
    # Emitted on every run, zero included, so the dashboard and alarms always find the metric.
    stats().put_metric("RunsInFlightSkipped", 1 if other else 0, "Count")
    if other:
        return in_flight_result(output, run_id=run_id, in_flight=other)
    state_filter, mark_deleted = state_hooks(cfg.state_table)
    result = discover(
        source,
        output,
        run_id=run_id,
        prefix=str(event.get("prefix", cfg.source_prefix)),
        suffixes=cfg.suffixes,
        chunk_size=cfg.chunk_size,
        max_files=cfg.max_files_per_run,
        state_filter=state_filter,
        mark_deleted=mark_deleted,
    )
    metrics = stats()
    metrics.put_metric("FilesListed", result.listed, "Count")
    metrics.put_metric("FilesSkipped", result.skipped, "Count")
    metrics.put_metric("FilesDeferred", result.deferred, "Count")
    # Deleted files healed by this run (results removed, state marked), zero included.
    metrics.put_metric("DeletionsReconciled", result.deletions_reconciled, "Count")
    return result


def handle_event(event: Mapping[str, Any], cfg: PollingConfig) -> dict[str, Any]:
    """The whole of a discovery function: :func:`handle` with clients made once per cold start.

    Only a run that Step Functions started (its event carries ``execution_arn``) checks for another
    run in flight.
    """
    s3 = aws_client("s3")
    return handle(
        event,
        cfg,
        source=S3AccessPoint(cfg.access_point, s3),
        output=S3AccessPoint(cfg.output_bucket, s3),
        sfn=aws_client("stepfunctions") if event.get("execution_arn") else None,
    )


def handle(
    event: Mapping[str, Any],
    cfg: PollingConfig,
    *,
    source: S3AccessPoint,
    output: S3AccessPoint,
    sfn: Any | None = None,
) -> dict[str, Any]:
    """Dispatch one event of the discovery function by its ``action`` (``discover`` when absent)."""
    action = event.get("action", "discover")
    if action == "load_chunk":
        LOAD_CHUNK.check_input(event)
        return {"run_id": event["run_id"], "files": load_chunk(output, Chunk.from_dict(event["chunk"]))}
    if action == "record_failure":
        RECORD_FAILURE.check_input(event)
        append_log_keys(run_id=str(event["run_id"]), file_key=str(event["key"]))
        summary = record_failure(output, event, source=source.target)
        stats().failed()
        return summary
    if action == "discover":
        return run_discovery(event, cfg, source=source, output=output, sfn=sfn).to_dict()
    raise ContractError(f"unknown discovery action {action!r}", action=action)
