"""One result document per processed file version, and the FAILED document of a caught failure.

The document is stored under :func:`shared.polling.keys.output_key` (full source key plus the
version's ETag token), so its existence is what the next discovery run treats as "done", whatever
the outcome. Every use case writes the same envelope; its own findings go in named ``sections``.

:func:`record_failure` is the skeleton's Catch target: a per-file step that raised (access denied,
a decoder that ran out of memory, a service error after the retries) lands there with the error
Step Functions caught, and the file gets a FAILED document with the reason and the error type, so
the run goes on and the version is not tried again until the file changes. A failure that says
nothing about the file (throttling or a Lambda service error that outlasted the retries) writes no
document: the run still goes on, and the next run tries the version again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.errors import FAILED, SKIPPED, SUCCEEDED, ObjectNotFoundError
from shared.observability import xray_subsegment
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_REASON_CHARS = 2000
STATUSES = (SUCCEEDED, FAILED)
# Caught errors that are not the file's fault: no FAILED document, so the next run retries it.
RETRY_NEXT_RUN = frozenset(
    {
        "TransientServiceError",
        "Lambda.TooManyRequestsException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    }
)


def result_document(
    *,
    key: str,
    etag: str,
    status: str,
    source: str = "",
    reason: str | None = None,
    error: str | None = None,
    sections: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The JSON document stored for one processed file version.

    ``sections`` are the use case's findings (``None`` values are left out); a FAILED document
    needs a ``reason``, and ``error`` names the error type when one was raised.
    """
    if status not in STATUSES:
        raise ValueError(f"a result status is one of {STATUSES}, not {status!r}")
    if status == FAILED and not reason:
        raise ValueError("a FAILED result needs a reason")
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "source": {"key": key, "etag": etag, "access_point": source},
        "output_key": output_key(key, etag),
        "processed_at": (now or datetime.now(UTC)).isoformat(),
    }
    for name, value in (sections or {}).items():
        if name in document:
            raise ValueError(f"section {name!r} would overwrite a field of the result envelope")
        if value is not None:
            document[name] = value
    if reason:
        document["reason"] = reason
    if error:
        document["error"] = error
    return document


def write_result(output: S3AccessPoint, document: Mapping[str, Any]) -> str:
    """Store the document under its output key and return the key."""
    key = str(document["output_key"])
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with xray_subsegment("write_result", {"status": str(document["status"])}):
        output.put(key, body, content_type="application/json")
    return key


def caught_reason(error: str, cause: str) -> str:
    """A readable reason from what a Catch caught: the Lambda error message when the cause has one.

    A Lambda task's ``Cause`` is a JSON object with ``errorMessage`` and ``errorType``; a timeout or
    a service error has a plain-text cause, and some errors have none at all.
    """
    message = ""
    try:
        parsed = json.loads(cause) if cause else None
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        message = str(parsed.get("errorMessage") or "")
    elif cause:
        message = cause
    reason = f"{error}: {message}" if message else f"{error} (no cause given)"
    return reason[:MAX_REASON_CHARS]


def record_failure(output: S3AccessPoint, event: Mapping[str, Any], *, source: str = "") -> dict[str, Any]:
    """Write the FAILED document of a caught per-file failure and return the step's summary.

    ``event`` is the failed step's file fields (``key``, ``etag``, ``run_id``) and ``caught``, the
    error as a Catch stores it: ``Error`` (its type, such as ``AccessDeniedError`` or
    ``States.Timeout``) and ``Cause`` (absent for some errors).
    """
    key, etag = str(event["key"]), str(event["etag"])
    caught = event["caught"]
    if not isinstance(caught, Mapping):
        raise TypeError(f"caught must be the object a Catch stores, not {type(caught).__name__}")
    error = str(caught.get("Error") or "States.ALL")
    reason = caught_reason(error, str(caught.get("Cause") or ""))
    summary = {"key": key, "etag": etag, "run_id": event["run_id"], "output_key": output_key(key, etag)}
    if error in RETRY_NEXT_RUN:
        logger.warning(
            "file %s (etag %s) failed with %s after the retries; left for the next run", key, etag, error
        )
        return {**summary, "status": SKIPPED, "reason": f"{reason}; left for the next run", "error": error}
    document = result_document(key=key, etag=etag, status=FAILED, source=source, reason=reason, error=error)
    write_result(output, document)
    logger.warning("file %s (etag %s) failed with %s; FAILED result written", key, etag, error)
    return {**summary, "status": FAILED, "reason": reason, "error": error}


def run_results(output: S3AccessPoint, chunks_key: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The result document of each file of a run, and the keys that have none (yet).

    A key without a result is one whose per-file step has not written it: a run still in progress,
    or a version left for the next run (a retriable failure writes nothing).
    """
    from shared.polling.discovery import run_files

    documents: list[dict[str, Any]] = []
    pending: list[str] = []
    for file in run_files(output, chunks_key):
        try:
            documents.append(json.loads(output.get_bytes(output_key(str(file["key"]), str(file["etag"])))))
        except ObjectNotFoundError:
            pending.append(str(file["key"]))
    return documents, pending
