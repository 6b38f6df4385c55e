"""Per-file processing state and the dead-letter table, both in DynamoDB.

Every state write is one conditional ``UpdateItem`` tied to the object's version: its fingerprint
(ETag, size, LastModified) and the ``detected_at`` stamp of the change event that announced it.

* ``claim`` moves a file to ``processing`` for one version. It succeeds for a new file, for a newer
  version (a later stamp with another fingerprint, or a re-creation after a delete), for a retry of
  the same version that is pending or failed, for the same event delivered again (same claim
  token, e.g. after the consumer crashed mid-batch), and for a claim that expired because its
  holder timed out. It refuses a version already completed (a duplicate), a version someone else
  is working on right now, and any event older than the state (stale or out of order).
* ``complete`` and ``fail`` succeed only while the claim is still the caller's, for that version.
* ``mark_deleted`` applies only if the delete is newer than the state, and leaves a tombstone so
  that a late, older ``created`` event cannot resurrect the file.

A refused condition costs one write unit and no read: ``ReturnValuesOnConditionCheckFailure``
returns the item, which says why. So a consumer spends at most two writes per record (claim and
finish) and never reads the table to find work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.change_events import Fingerprint, utc_stamp
from shared.errors import PatternError, aws_error_code

logger = logging.getLogger(__name__)

PENDING, PROCESSING, COMPLETED, FAILED, DELETED = "pending", "processing", "completed", "failed", "deleted"
STATUSES = (PENDING, PROCESSING, COMPLETED, FAILED, DELETED)

CLAIMED, DUPLICATE, BUSY, STALE = "claimed", "duplicate", "busy", "stale"

MAX_TEXT = 32 * 1024
MAX_RAW = 300 * 1024  # a DynamoDB item is at most 400 KB
BATCH_GET_LIMIT = 100


class StateStoreError(PatternError):
    """A state or dead-letter write failed for a reason other than its condition (throttling, access)."""


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": str(value)}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item as plain Python values (strings, ints, floats)."""
    out: dict[str, Any] = {}
    for name, typed in item.items():
        (kind, value), *_ = typed.items()
        if kind == "N":
            number = float(value)
            out[name] = int(number) if number.is_integer() else number
        elif kind == "BOOL":
            out[name] = bool(value)
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class FileState:
    """A state item, decoded."""

    key: str
    status: str
    fingerprint: Fingerprint
    detected_at: str
    claim_token: str | None = None
    claim_expires_at: float | None = None
    attempts: int = 0
    output_key: str | None = None
    reason: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> FileState:
        plain = _plain(item)
        return cls(
            key=plain["file_key"],
            status=plain.get("status", PENDING),
            fingerprint=Fingerprint(
                str(plain.get("etag", "")), int(plain.get("size", 0)), str(plain.get("last_modified", ""))
            ),
            detected_at=str(plain.get("detected_at", "")),
            claim_token=plain.get("claim_token"),
            claim_expires_at=plain.get("claim_expires_at"),
            attempts=int(plain.get("attempts", 0)),
            output_key=plain.get("output_key"),
            reason=plain.get("reason"),
        )


@dataclass(frozen=True)
class Claim:
    """The result of :meth:`StateStore.claim`. Only an ``outcome == CLAIMED`` claim may be finished."""

    key: str
    fingerprint: Fingerprint
    detected_at: str
    token: str
    outcome: str
    current: FileState | None = None

    @property
    def claimed(self) -> bool:
        return self.outcome == CLAIMED


_FP_MATCH = "(etag = :etag AND #size = :size AND last_modified = :lm)"
_CLAIM_CONDITION = (
    "attribute_not_exists(file_key)"
    f" OR (detected_at < :t AND (NOT {_FP_MATCH} OR #status = :deleted))"
    f" OR (detected_at <= :t AND {_FP_MATCH} AND (#status IN (:pending, :failed)"
    " OR (#status = :processing AND (claim_token = :tok OR claim_expires_at <= :now))))"
)
_OWNED = f"claim_token = :tok AND detected_at = :t AND {_FP_MATCH}"


class StateStore:
    """Idempotent, version-conditioned state transitions on the per-file table (key ``file_key``)."""

    def __init__(
        self, table_name: str, client: Any | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.table_name = table_name
        self._client = client
        self.clock = clock
        self.writes = 0  # write requests sent, for metrics and benchmarks

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _now_text(self) -> str:
        return utc_stamp(datetime.fromtimestamp(self.clock(), UTC))

    def _update(self, key: str, expression: str, condition: str, names: dict[str, str],
                values: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
        """One conditional UpdateItem; returns None on success, the current item if the condition failed."""
        self.writes += 1
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"file_key": _s(key)},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as error:
            code = aws_error_code(error)
            if code == "ConditionalCheckFailedException":
                item: dict[str, Any] = getattr(error, "response", {}).get("Item") or {}
                return item
            raise StateStoreError(
                f"UpdateItem on {self.table_name} for {key!r} failed with {code or error}",
                code=code,
                key=key,
            ) from error
        return None

    @staticmethod
    def _fp_values(fingerprint: Fingerprint) -> dict[str, Any]:
        return {
            ":etag": _s(fingerprint.etag),
            ":size": _n(fingerprint.size),
            ":lm": _s(fingerprint.last_modified),
        }

    def claim(
        self,
        key: str,
        fingerprint: Fingerprint,
        *,
        detected_at: str,
        token: str,
        timeout_seconds: float,
    ) -> Claim:
        """Try to take ``key`` at ``fingerprint`` into ``processing`` (see the module docstring)."""
        now = self.clock()
        values = {
            **self._fp_values(fingerprint),
            ":t": _s(detected_at),
            ":tok": _s(token),
            ":now": _n(now),
            ":exp": _n(now + timeout_seconds),
            ":ts": _s(self._now_text()),
            ":zero": _n(0),
            ":one": _n(1),
            ":pending": _s(PENDING),
            ":failed": _s(FAILED),
            ":processing": _s(PROCESSING),
            ":deleted": _s(DELETED),
        }
        expression = (
            "SET etag = :etag, #size = :size, last_modified = :lm, detected_at = :t, #status = :processing,"
            " claim_token = :tok, claim_expires_at = :exp, updated_at = :ts,"
            " attempts = if_not_exists(attempts, :zero) + :one REMOVE reason"
        )
        names = {"#size": "size", "#status": "status"}
        current = self._update(key, expression, _CLAIM_CONDITION, names, values)
        if current is None:
            return Claim(key, fingerprint, detected_at, token, CLAIMED)
        state = FileState.from_item(current) if current else None
        return Claim(key, fingerprint, detected_at, token, _why_refused(state, fingerprint, now), state)

    def _finish(self, claim: Claim, status: str, extra: dict[str, str]) -> bool:
        if not claim.claimed:
            raise ValueError(f"cannot finish a claim that was {claim.outcome}")
        values: dict[str, Any] = {
            **self._fp_values(claim.fingerprint),
            ":t": _s(claim.detected_at),
            ":tok": _s(claim.token),
            ":status": _s(status),
            ":ts": _s(self._now_text()),
        }
        sets = ["#status = :status", "updated_at = :ts"]
        for index, (name, value) in enumerate(sorted(extra.items())):
            sets.append(f"{name} = :x{index}")
            values[f":x{index}"] = _s(value[:MAX_TEXT])
        expression = "SET " + ", ".join(sets) + " REMOVE claim_token, claim_expires_at"
        current = self._update(claim.key, expression, _OWNED, {"#size": "size", "#status": "status"}, values)
        if current is not None:
            logger.info("claim on %r was superseded before it finished; a newer version owns it", claim.key)
            return False
        return True

    def complete(self, claim: Claim, *, output_key: str | None = None) -> bool:
        """Mark the claimed version completed. False if a newer version took the file over meanwhile."""
        extra = {"completed_at": self._now_text()}
        if output_key:
            extra["output_key"] = output_key
        return self._finish(claim, COMPLETED, extra)

    def fail(self, claim: Claim, reason: str) -> bool:
        """Mark the claimed version failed with its reason (never completed)."""
        return self._finish(claim, FAILED, {"reason": reason or "unknown"})

    def mark_deleted(self, key: str, fingerprint: Fingerprint, *, detected_at: str) -> bool:
        """Record a deletion if it is newer than the state; False for a duplicate or stale delete."""
        values = {
            **self._fp_values(fingerprint),
            ":t": _s(detected_at),
            ":status": _s(DELETED),
            ":ts": _s(self._now_text()),
        }
        expression = (
            "SET etag = :etag, #size = :size, last_modified = :lm, detected_at = :t, #status = :status,"
            " updated_at = :ts REMOVE claim_token, claim_expires_at"
        )
        condition = "attribute_not_exists(file_key) OR detected_at < :t"
        return (
            self._update(key, expression, condition, {"#size": "size", "#status": "status"}, values) is None
        )

    # -- reads, for reconciliation (never for change detection) ------------------------------------

    def get(self, key: str) -> FileState | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"file_key": _s(key)}, ConsistentRead=True
        )
        item = response.get("Item")
        return FileState.from_item(item) if item else None

    def is_completed(self, key: str, fingerprint: Fingerprint) -> bool:
        """Whether this exact version of ``key`` was completed."""
        state = self.get(key)
        return state is not None and state.status == COMPLETED and state.fingerprint == fingerprint

    def completed_keys(
        self, objects: Iterable[tuple[str, Fingerprint]], *, sleep: Callable[[float], None] = time.sleep
    ) -> set[str]:
        """The keys among ``objects`` whose listed fingerprint is completed (BatchGetItem, 100 at a time).

        The polling path uses this to pick up what the stream missed; it bills 0.5 read units per
        item, so it belongs to the hourly reconciliation, not to per-minute change detection.
        """
        done: set[str] = set()
        batch: dict[str, Fingerprint] = {}
        for key, fingerprint in objects:
            batch[key] = fingerprint
            if len(batch) == BATCH_GET_LIMIT:
                done |= self._completed_batch(batch, sleep)
                batch = {}
        if batch:
            done |= self._completed_batch(batch, sleep)
        return done

    def _completed_batch(self, wanted: dict[str, Fingerprint], sleep: Callable[[float], None]) -> set[str]:
        done: set[str] = set()
        request: dict[str, Any] = {
            self.table_name: {
                "Keys": [{"file_key": _s(k)} for k in wanted],
                "ProjectionExpression": "file_key, #status, etag, #size, last_modified",
                "ExpressionAttributeNames": {"#status": "status", "#size": "size"},
            }
        }
        for attempt in range(10):
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table_name, []):
                state = FileState.from_item(item)
                if state.status == COMPLETED and wanted.get(state.key) == state.fingerprint:
                    done.add(state.key)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return done
            sleep(min(2.0, 0.05 * 2**attempt))
        raise StateStoreError(f"BatchGetItem on {self.table_name} left keys unprocessed after 10 attempts")


def _why_refused(state: FileState | None, fingerprint: Fingerprint, now: float) -> str:
    if state is None:
        return STALE
    if state.fingerprint == fingerprint and state.status == COMPLETED:
        return DUPLICATE
    if (
        state.fingerprint == fingerprint
        and state.status == PROCESSING
        and (state.claim_expires_at or 0) > now
    ):
        return BUSY
    return STALE


def _table_definition(table_name: str, hash_key: str) -> dict[str, Any]:
    return {
        "TableName": table_name,
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": hash_key, "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def state_table_definition(table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments for :class:`StateStore` (the template's key; for tests and benchmarks)."""
    return _table_definition(table_name, "file_key")


def dead_letter_table_definition(table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments for :class:`DeadLetterStore` (the template's key)."""
    return _table_definition(table_name, "record_id")


# -- dead letters ----------------------------------------------------------------------------------


def record_id_for(partition_key: str, data: str) -> str:
    """A stable id for a raw stream record, so the same record failing again updates one item."""
    digest = hashlib.sha256(f"{partition_key}\x00{data}".encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()[:40]


@dataclass(frozen=True)
class DeadLetter:
    """One dead-letter item, decoded."""

    record_id: str
    partition_key: str
    data: str
    kind: str
    error: str
    stack_trace: str
    attempts: int
    first_failure_at: str
    last_failure_at: str
    raw: dict[str, Any]
    key: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DeadLetter:
        plain = _plain(item)
        try:
            raw = json.loads(plain.get("raw", "{}"))
        except json.JSONDecodeError:
            raw = {"unparsed": plain.get("raw", "")}
        return cls(
            record_id=plain["record_id"],
            partition_key=plain.get("partition_key", ""),
            data=plain.get("data", ""),
            kind=plain.get("kind", ""),
            error=plain.get("error", ""),
            stack_trace=plain.get("stack_trace", ""),
            attempts=int(plain.get("attempts", 0)),
            first_failure_at=plain.get("first_failure_at", ""),
            last_failure_at=plain.get("last_failure_at", ""),
            raw=raw if isinstance(raw, dict) else {"value": raw},
            key=plain.get("file_key"),
        )


class DeadLetterStore:
    """Writes and reads the dead-letter table (key ``record_id``, TTL attribute ``expires_at``)."""

    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        *,
        ttl_days: float = 14,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self.ttl_days = ttl_days
        self.clock = clock
        self.writes = 0

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def record(
        self,
        *,
        partition_key: str,
        data: str,
        raw: dict[str, Any],
        kind: str,
        error: str,
        stack_trace: str,
        key: str | None = None,
    ) -> str:
        """Add or update the dead letter of one raw record; returns its ``record_id``.

        ``data`` is the record's base64 payload exactly as delivered, so a replay re-puts the same
        bytes. The attempt count grows and ``first_failure_at`` is kept across repeated failures.
        """
        record_id = record_id_for(partition_key, data)
        now = self.clock()
        stamp = utc_stamp(datetime.fromtimestamp(now, UTC))
        raw_text = json.dumps(raw, sort_keys=True, default=str)
        values: dict[str, Any] = {
            ":pk": _s(partition_key or "-"),
            ":data": _s(data[:MAX_RAW] or "-"),
            ":raw": _s(raw_text[:MAX_RAW]),
            ":trunc": {"BOOL": len(data) > MAX_RAW or len(raw_text) > MAX_RAW},
            ":kind": _s(kind),
            ":error": _s(error[:MAX_TEXT] or "unknown"),
            ":stack": _s(stack_trace[-MAX_TEXT:] or "-"),
            ":now": _s(stamp),
            ":exp": _n(int(now + self.ttl_days * 86400)),
            ":one": _n(1),
        }
        sets = [
            "partition_key = :pk",
            "#data = :data",
            "#raw = :raw",
            "raw_truncated = :trunc",
            "kind = :kind",
            "#error = :error",
            "stack_trace = :stack",
            "first_failure_at = if_not_exists(first_failure_at, :now)",
            "last_failure_at = :now",
            "expires_at = :exp",
        ]
        if key:
            sets.append("file_key = :key")
            values[":key"] = _s(key)
        self.writes += 1
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"record_id": _s(record_id)},
                UpdateExpression="SET " + ", ".join(sets) + " ADD attempts :one",
                ExpressionAttributeNames={"#data": "data", "#raw": "raw", "#error": "error"},
                ExpressionAttributeValues=values,
            )
        except Exception as failure:
            code = aws_error_code(failure)
            raise StateStoreError(
                f"writing dead letter {record_id} to {self.table_name} failed: {code or failure}", code=code
            ) from failure
        return record_id

    def entries(self) -> Iterator[DeadLetter]:
        """Every dead letter (a paginated Scan; the table is small and read only by operators)."""
        paginator = self.client.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table_name, ConsistentRead=True):
            for item in page.get("Items", ()):
                yield DeadLetter.from_item(item)

    def remove(self, letter: DeadLetter) -> bool:
        """Delete a dead letter unless it failed again since it was read; True if removed."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"record_id": _s(letter.record_id)},
                ConditionExpression="last_failure_at = :seen",
                ExpressionAttributeValues={":seen": _s(letter.last_failure_at)},
            )
        except Exception as error:
            if aws_error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True
