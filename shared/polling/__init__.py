"""The polling skeleton: each file version processed once, a bad file isolated, runs never overlapping.

A use case's polling path is: discovery, a manifest and chunk list in S3, a Distributed Map over
the chunks, the use case's per-file steps, one result document per file version. This package is
everything in that path that is not the use case's own processing. Its public API:

Discovery (:mod:`shared.polling.discovery`, :mod:`shared.polling.steps`)
    ``handle(event, cfg, *, source, output, sfn=None) -> dict``: the whole discovery function;
    dispatches ``event["action"]``: ``discover`` (default), ``load_chunk``, ``record_failure``.
    ``run_discovery(event, cfg, *, source, output, sfn=None) -> DiscoveryResult``: ``discover``
    alone. The event carries ``run_id`` and, from Step Functions, ``state_machine_arn``,
    ``execution_arn`` and ``started_at`` for the overlap check.
    ``discover(source, output, *, run_id, prefix="", suffixes=(), chunk_size=100, max_files=0,
    state_filter=None, mark_deleted=None) -> DiscoveryResult``: the listing filter is ``prefix``
    plus ``suffixes`` (empty: every key); ``max_files`` is the per-run budget (0: none), carried on
    by a cursor in the output bucket. ``DiscoveryResult`` holds pointers and counts, never the file
    list: ``run_id, bucket, manifest_key, chunks_key, listed, skipped, deferred,
    files_to_process, chunk_count, mode, in_flight, deletions_reconciled, state_marked_deleted``.
    ``load_chunk(output, Chunk) -> list[dict]``: the files of one chunk (one ranged GET), each
    ``{key, etag, size, last_modified}`` (:data:`FILE_ITEM`).
    ``OutputIndex``, ``StateIndex``, ``RunBudget``, ``reconcile_deletions``: the filters
    ``discover`` chains, for callers that assemble their own.
    ``state_hooks(table) -> (state_filter, mark_deleted)``: the streaming state table's hooks.

Overlap (:mod:`shared.polling.overlap`)
    ``RunIdentity.from_event(event)`` and ``earlier_run_in_flight(sfn, run) -> str``: the ARN of a
    RUNNING execution of the same state machine that started earlier (ties: lower name), or "".

Result keys (:mod:`shared.polling.keys`)
    ``output_key(source_key, etag) -> str``: ``results/by-key/<full key>/<etag token>.json``
    (``results/by-hash/<sha256>/...`` above the key-length limit); ``etag_token(etag)``,
    ``result_prefix(source_prefix)``.

Results (:mod:`shared.polling.results`)
    ``result_document(*, key, etag, status, source="", reason=None, error=None, sections=None)``,
    ``write_result(output, document) -> key``, and ``record_failure(output, event, *, source="")``:
    the FAILED document of a failure caught on the per-file branch (``reason`` and ``error``).

Step contracts (:mod:`shared.polling.contract`)
    ``StepContract``, ``ContractError``, ``carry(event, *extra)``, ``FILE_ITEM`` and the skeleton's
    own ``DISCOVERY``, ``LOAD_CHUNK``, ``RECORD_FAILURE``.

Errors and AI-service calls (:mod:`shared.polling.errors`, :mod:`shared.polling.aws`)
    ``FileRejectedError`` (per file: a FAILED result) and ``TransientServiceError`` (retried);
    ``call(service, operation, fn, *, per_item_codes=..., rejected=FileRejectedError, **kwargs)``
    sorts a service's error codes into those two, letting deployment errors through unchanged.

Configuration (:mod:`shared.polling.settings`)
    ``PollingConfig``: ACCESS_POINT, OUTPUT_BUCKET, SOURCE_PREFIX, SUFFIXES, CHUNK_SIZE,
    MAX_FILES_PER_RUN, STATE_TABLE; a use case subclasses it for its own defaults.

Names resolve on first use (PEP 562), so importing this package costs nothing at a cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.lazy import deferred_exports

if TYPE_CHECKING:
    from shared.polling.aws import call
    from shared.polling.contract import (
        DISCOVERY,
        FILE_ITEM,
        LOAD_CHUNK,
        RECORD_FAILURE,
        ContractError,
        StepContract,
        carry,
    )
    from shared.polling.discovery import (
        Chunk,
        DiscoveryResult,
        OutputIndex,
        RunBudget,
        StateIndex,
        discover,
        load_chunk,
        new_run_id,
        reconcile_deletions,
    )
    from shared.polling.errors import FileRejectedError, TransientServiceError
    from shared.polling.keys import etag_token, output_key, result_prefix
    from shared.polling.overlap import RunIdentity, earlier_run_in_flight
    from shared.polling.results import record_failure, result_document, write_result
    from shared.polling.settings import PollingConfig
    from shared.polling.steps import handle, run_discovery, state_hooks

_HOMES = {
    "call": "aws",
    "DISCOVERY": "contract",
    "FILE_ITEM": "contract",
    "LOAD_CHUNK": "contract",
    "RECORD_FAILURE": "contract",
    "ContractError": "contract",
    "StepContract": "contract",
    "carry": "contract",
    "Chunk": "discovery",
    "DiscoveryResult": "discovery",
    "OutputIndex": "discovery",
    "RunBudget": "discovery",
    "StateIndex": "discovery",
    "discover": "discovery",
    "load_chunk": "discovery",
    "new_run_id": "discovery",
    "reconcile_deletions": "discovery",
    "FileRejectedError": "errors",
    "TransientServiceError": "errors",
    "etag_token": "keys",
    "output_key": "keys",
    "result_prefix": "keys",
    "RunIdentity": "overlap",
    "earlier_run_in_flight": "overlap",
    "record_failure": "results",
    "result_document": "results",
    "write_result": "results",
    "PollingConfig": "settings",
    "handle": "steps",
    "run_discovery": "steps",
    "state_hooks": "steps",
}

__all__ = [
    "DISCOVERY",
    "FILE_ITEM",
    "LOAD_CHUNK",
    "RECORD_FAILURE",
    "Chunk",
    "ContractError",
    "DiscoveryResult",
    "FileRejectedError",
    "OutputIndex",
    "PollingConfig",
    "RunBudget",
    "RunIdentity",
    "StateIndex",
    "StepContract",
    "TransientServiceError",
    "call",
    "carry",
    "discover",
    "earlier_run_in_flight",
    "etag_token",
    "handle",
    "load_chunk",
    "new_run_id",
    "output_key",
    "reconcile_deletions",
    "record_failure",
    "result_document",
    "result_prefix",
    "run_discovery",
    "state_hooks",
    "write_result",
]

__getattr__, __dir__ = deferred_exports(__name__, globals(), _HOMES)
