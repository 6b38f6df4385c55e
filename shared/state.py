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

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.change_events import Fingerprint, utc_stamp
from shared.clients import LazyClient
from shared.errors import PatternError, aws_error_code

logger = logging.getLogger(__name__)

PENDING, PROCESSING, COMPLETED, FAILED, DELETED = "pending", "processing", "completed", "failed", "deleted"
STATUSES = (PENDING, PROCESSING, COMPLETED, FAILED, DELETED)

CLAIMED, DUPLICATE, BUSY, STALE = "claimed", "duplicate", "busy", "stale"

MAX_TEXT = 32 * 1024
BATCH_GET_LIMIT = 100
# DynamoDB's item limit counts attribute names and values. A dead letter past it keeps its record
# in S3 under this prefix of the output bucket and a pointer in the item.
MAX_ITEM_BYTES = 400 * 1024
ITEM_MARGIN_BYTES = 1024
DEAD_LETTER_PREFIX = "dead-letters/"


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

    client = LazyClient("dynamodb")

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

    def mark_gone(self, key: str, *, detected_at: str) -> bool:
        """Mark a file deleted that a listing no longer shows, keeping its last fingerprint.

        For the polling run's reconciliation: ``detected_at`` is when the listing began, so any
        event detected after it (a re-creation) keeps the file, as does a state already deleted.
        True if the state changed, i.e. the stream had missed this deletion.
        """
        values = {":t": _s(detected_at), ":status": _s(DELETED), ":ts": _s(self._now_text())}
        expression = (
            "SET detected_at = :t, #status = :status, updated_at = :ts REMOVE claim_token, claim_expires_at"
        )
        condition = "attribute_exists(file_key) AND #status <> :status AND detected_at < :t"
        return self._update(key, expression, condition, {"#status": "status"}, values) is None

    # -- reads, for reconciliation (never for change detection) ------------------------------------

    def get(self, key: str) -> FileState | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"file_key": _s(key)}, ConsistentRead=True
        )
        item = response.get("Item")
        return FileState.from_item(item) if item else None

    def applied(self, key: str, event_type: str, fingerprint: Fingerprint, detected_at: str) -> bool:
        """Whether the state already reflects this change event, or something newer than it.

        True for a completed version with this fingerprint, for a deletion already recorded at or
        after this stamp, and for any state newer than the event (which the consumer would refuse
        as stale anyway). A replay uses it to skip what needs no second delivery.
        """
        state = self.get(key)
        if state is None:
            return False
        if state.detected_at > detected_at:
            return True
        if event_type == DELETED:
            return state.status == DELETED and state.detected_at >= detected_at
        return state.status == COMPLETED and state.fingerprint == fingerprint

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


def _clip(text: str, max_bytes: int, *, keep_end: bool = False) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 (a lone surrogate becomes its escape)."""
    data = text.encode("utf-8", errors="backslashreplace")
    if len(data) > max_bytes:
        data = data[-max_bytes:] if keep_end else data[:max_bytes]
    return data.decode("utf-8", errors="ignore")


def _value_bytes(value: dict[str, Any]) -> int:
    """The bytes DynamoDB counts for one typed value (numbers at their 21-byte maximum)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode("utf-8"))
    if kind == "N":
        return 21
    return 1


def item_bytes(attributes: dict[str, dict[str, Any]]) -> int:
    """The size of an item as DynamoDB measures it: UTF-8 names plus values."""
    return sum(len(name.encode("utf-8")) + _value_bytes(value) for name, value in attributes.items())


def _split_data(raw: dict[str, Any], data: str) -> dict[str, Any]:
    """The raw record without its ``kinesis.data`` (kept once, in the ``data`` attribute)."""
    kinesis = raw.get("kinesis")
    if isinstance(kinesis, dict) and kinesis.get("data") == data:
        return {**raw, "kinesis": {k: v for k, v in kinesis.items() if k != "data"}}
    return raw


def _join_data(raw: dict[str, Any], data: str) -> dict[str, Any]:
    kinesis = raw.get("kinesis")
    if isinstance(kinesis, dict) and "data" not in kinesis and data:
        return {**raw, "kinesis": {**kinesis, "data": data}}
    return raw


class DeadLetterOverflow:
    """Keeps dead-letter records too large for a DynamoDB item as JSON objects in S3.

    The item then holds ``raw_location`` (``s3://bucket/key``) instead of ``data`` and ``raw``.
    """

    def __init__(self, bucket: str, client: Any | None = None, *, prefix: str = DEAD_LETTER_PREFIX) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client = client

    client = LazyClient("s3")

    def put(self, record_id: str, document: dict[str, Any]) -> str:
        key = f"{self.prefix}{record_id}.json"
        body = json.dumps(document, sort_keys=True, default=str).encode("utf-8")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{self.bucket}/{key}"

    @staticmethod
    def _split(location: str) -> tuple[str, str]:
        bucket, sep, key = location.removeprefix("s3://").partition("/")
        if not location.startswith("s3://") or not sep or not key:
            raise ValueError(f"not an s3:// location: {location!r}")
        return bucket, key

    def get(self, location: str) -> dict[str, Any]:
        bucket, key = self._split(location)
        document = json.loads(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())
        if not isinstance(document, dict):
            raise ValueError(f"dead-letter record at {location} is not a JSON object")
        return document

    def delete(self, location: str) -> None:
        bucket, key = self._split(location)
        self.client.delete_object(Bucket=bucket, Key=key)


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
    raw_location: str | None = None  # set when the record itself is kept in S3

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DeadLetter:
        plain = _plain(item)
        try:
            raw = json.loads(plain.get("raw", "{}"))
        except json.JSONDecodeError:
            raw = {"unparsed": plain.get("raw", "")}
        data = plain.get("data", "")
        data = "" if data == "-" else data
        raw = raw if isinstance(raw, dict) else {"value": raw}
        return cls(
            record_id=plain["record_id"],
            partition_key=plain.get("partition_key", ""),
            data=data,
            kind=plain.get("kind", ""),
            error=plain.get("error", ""),
            stack_trace=plain.get("stack_trace", ""),
            attempts=int(plain.get("attempts", 0)),
            first_failure_at=plain.get("first_failure_at", ""),
            last_failure_at=plain.get("last_failure_at", ""),
            raw=_join_data(raw, data),
            key=plain.get("file_key"),
            raw_location=plain.get("raw_location"),
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
        overflow: DeadLetterOverflow | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self.ttl_days = ttl_days
        self.clock = clock
        self.overflow = overflow
        self.writes = 0

    client = LazyClient("dynamodb")

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
        bytes; it is stored once (``raw`` is kept without it). The attempt count grows and
        ``first_failure_at`` is kept across repeated failures. The item's size is measured before
        the write: past DynamoDB's 400 KB limit, the record goes to the overflow bucket and the
        item keeps a pointer to it, so a dead letter always fits.
        """
        record_id = record_id_for(partition_key, data)
        now = self.clock()
        stamp = utc_stamp(datetime.fromtimestamp(now, UTC))
        raw_inline = _split_data(raw, data)
        values: dict[str, Any] = {
            ":pk": _s(_clip(partition_key, 1024) or "-"),
            ":kind": _s(kind),
            ":error": _s(_clip(error, MAX_TEXT) or "unknown"),
            ":stack": _s(_clip(stack_trace, MAX_TEXT, keep_end=True) or "-"),
            ":now": _s(stamp),
            ":exp": _n(int(now + self.ttl_days * 86400)),
            ":one": _n(1),
        }
        attributes = {
            "record_id": _s(record_id),
            "partition_key": values[":pk"],
            "kind": values[":kind"],
            "error": values[":error"],
            "stack_trace": values[":stack"],
            "first_failure_at": values[":now"],
            "last_failure_at": values[":now"],
            "expires_at": values[":exp"],
            "attempts": values[":one"],
        }
        sets = [
            "partition_key = :pk",
            "kind = :kind",
            "#error = :error",
            "stack_trace = :stack",
            "first_failure_at = if_not_exists(first_failure_at, :now)",
            "last_failure_at = :now",
            "expires_at = :exp",
        ]
        if key:
            sets.append("file_key = :key")
            values[":key"] = attributes["file_key"] = _s(_clip(key, 2048))
        inline = {"data": _s(data or "-"), "raw": _s(json.dumps(raw_inline, sort_keys=True, default=str))}
        names = {"#error": "error", "#data": "data", "#raw": "raw"}
        if item_bytes({**attributes, **inline}) <= MAX_ITEM_BYTES - ITEM_MARGIN_BYTES:
            values[":data"], values[":raw"] = inline["data"], inline["raw"]
            expression = "SET " + ", ".join([*sets, "#data = :data", "#raw = :raw"])
            expression += " ADD attempts :one REMOVE raw_location"
        else:
            if self.overflow is None:
                raise StateStoreError(
                    f"dead letter {record_id} is over DynamoDB's item limit and no overflow bucket is set",
                    code="ItemTooLarge",
                )
            document = {"partition_key": partition_key, "data": data, "raw": raw_inline}
            values[":loc"] = _s(self.overflow.put(record_id, document))
            expression = "SET " + ", ".join([*sets, "raw_location = :loc"])
            expression += " ADD attempts :one REMOVE #data, #raw"
        self.writes += 1
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"record_id": _s(record_id)},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as failure:
            code = aws_error_code(failure)
            raise StateStoreError(
                f"writing dead letter {record_id} to {self.table_name} failed: {code or failure}", code=code
            ) from failure
        return record_id

    def resolve(self, letter: DeadLetter) -> DeadLetter:
        """The dead letter with its record read back from S3 when the item holds only a pointer."""
        if letter.raw_location is None:
            return letter
        overflow = self.overflow or DeadLetterOverflow("")
        document = overflow.get(letter.raw_location)
        data = str(document.get("data", ""))
        raw = document.get("raw")
        raw = raw if isinstance(raw, dict) else {}
        return dataclasses.replace(letter, data=data, raw=_join_data(raw, data))

    def entries(self) -> Iterator[DeadLetter]:
        """Every dead letter (a paginated Scan; the table is small and read only by operators)."""
        paginator = self.client.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table_name, ConsistentRead=True):
            for item in page.get("Items", ()):
                yield self.resolve(DeadLetter.from_item(item))

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
        if letter.raw_location is not None:
            (self.overflow or DeadLetterOverflow("")).delete(letter.raw_location)
        return True
