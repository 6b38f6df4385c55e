"""Kinesis event source mapping poller with Lambda's batch semantics.

moto's own mapping invokes the function once per record as it is put, ignores the response and
keeps firing after the mapping is deleted; the runtime adapter switches it off. This poller reads
each shard with GetRecords and invokes the function the way the Lambda service does:

* ``BatchSize`` records at most per invocation, starting at ``TRIM_HORIZON``, ``LATEST`` (records
  put before the poller attached are skipped) or ``AT_TIMESTAMP``; a disabled mapping is not polled.
* The event is Lambda's Kinesis event: ``Records[].kinesis`` with base64 ``data``, ``partitionKey``,
  ``sequenceNumber``, ``approximateArrivalTimestamp`` and ``kinesisSchemaVersion``, plus
  ``eventSource``, ``eventSourceARN``, ``eventID`` (``<shard>:<sequence>``), ``eventName``,
  ``invokeIdentityArn`` and ``awsRegion``.
* With ``ReportBatchItemFailures`` the response ``{"batchItemFailures": [{"itemIdentifier": seq}]}``
  checkpoints just before the lowest failed sequence number, and the records from there on are
  delivered again. An empty or null list is success; a null, empty or unknown identifier fails the
  whole batch.
* A failed batch (an exception, or an invalid failure report) is retried by reading again from the
  checkpoint, so the retry may carry newer records too. With ``BisectBatchOnFunctionError`` a batch
  that raised is split in two halves that are retried as they are; a split does not use up the
  retry quota. A batch is retried at most ``MaximumRetryAttempts`` times (-1: until the records
  expire), then discarded.
* Records older than ``MaximumRecordAgeInSeconds`` are discarded instead of delivered.
* Discarded batches are described to ``DestinationConfig.OnFailure`` (SQS queue, SNS topic or S3
  bucket) with the ``KinesisBatchInfo`` Lambda sends, and the shard moves on.

Time comes from an injectable clock so record age can be tested without waiting.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.localcloud import delivery

logger = logging.getLogger(__name__)

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass
class MappingStats:
    """What one mapping delivered, for summaries and tests."""

    invocations: int = 0
    records_delivered: int = 0
    records_succeeded: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    bisections: int = 0
    records_discarded: int = 0
    discarded_batches: list[dict[str, Any]] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)


@dataclass
class _Batch:
    records: list[dict[str, Any]]
    attempts: int = 0
    split: bool = False  # a half made by bisecting: retried as it is, never re-read


@dataclass
class _ShardState:
    checkpoint: str | None = None  # last sequence number that needs no more delivery
    started: bool = False
    retry: deque[_Batch] = field(default_factory=deque)
    carried: tuple[str, int] | None = None  # (first sequence number, attempts) of a batch to re-read


def _seq(record: dict[str, Any]) -> int:
    return int(record["SequenceNumber"])


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


class KinesisPoller:
    """Polls every enabled Kinesis mapping of one region and delivers batches to their functions."""

    def __init__(
        self,
        session: Any,
        region: str,
        *,
        clock: Callable[[], float] = time.time,
        max_invocations_per_drain: int = 5000,
    ) -> None:
        self.region = region
        self.kinesis = session.client("kinesis", region_name=region)
        self.lambda_ = session.client("lambda", region_name=region)
        self.session = session
        self.clock = clock
        self.max_invocations = max_invocations_per_drain
        self.stats: dict[str, MappingStats] = {}
        self._shards: dict[tuple[str, str], _ShardState] = {}

    # -- mappings --

    def mappings(self) -> list[dict[str, Any]]:
        found = []
        for page in self.lambda_.get_paginator("list_event_source_mappings").paginate():
            for mapping in page["EventSourceMappings"]:
                if mapping["EventSourceArn"].split(":")[2] == "kinesis":
                    found.append(mapping)
        return found

    @staticmethod
    def enabled(mapping: dict[str, Any]) -> bool:
        return str(mapping.get("State", "Enabled")) in {"Enabled", "Enabling"}

    def attach(self) -> None:
        """Fix the starting position of every new mapping now, as Lambda does when a mapping is created."""
        for mapping in self.mappings():
            for shard_id in self._shard_ids(mapping["EventSourceArn"]):
                self._state(mapping, shard_id)

    def _shard_ids(self, stream_arn: str) -> list[str]:
        shards = self.kinesis.list_shards(StreamARN=stream_arn)["Shards"]
        return [shard["ShardId"] for shard in shards]

    def _state(self, mapping: dict[str, Any], shard_id: str) -> _ShardState:
        key = (mapping["UUID"], shard_id)
        state = self._shards.get(key)
        if state is None:
            state = _ShardState()
            self._shards[key] = state
            position = mapping.get("StartingPosition", "TRIM_HORIZON")
            if position == "LATEST":
                state.checkpoint = self._last_sequence(mapping["EventSourceArn"], shard_id)
            elif position == "AT_TIMESTAMP":
                stamp = _epoch(mapping["StartingPositionTimestamp"])
                state.checkpoint = self._sequence_before(mapping["EventSourceArn"], shard_id, stamp)
            state.started = True
        return state

    def _iterate(self, stream_arn: str, shard_id: str, after: str | None) -> str:
        # By name: moto encodes the stream name in the iterator and loses it when given only the ARN.
        kwargs: dict[str, Any] = {"StreamName": stream_arn.split("/", 1)[1], "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        return str(self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"])

    def _read(self, stream_arn: str, shard_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        iterator = self._iterate(stream_arn, shard_id, after)
        response = self.kinesis.get_records(ShardIterator=iterator, Limit=limit)
        return list(response["Records"])

    def _last_sequence(self, stream_arn: str, shard_id: str) -> str | None:
        last: str | None = None
        while True:
            records = self._read(stream_arn, shard_id, last, 10000)
            if not records:
                return last
            last = records[-1]["SequenceNumber"]

    def _sequence_before(self, stream_arn: str, shard_id: str, stamp: float) -> str | None:
        last: str | None = None
        while True:
            records = self._read(stream_arn, shard_id, last, 10000)
            for record in records:
                if _epoch(record["ApproximateArrivalTimestamp"]) >= stamp:
                    return last
                last = record["SequenceNumber"]
            if not records:
                return last

    # -- delivery --

    def drain(self) -> dict[str, MappingStats]:
        """Poll until every enabled mapping has nothing left to deliver (or the invocation cap is hit)."""
        invocations = 0
        while invocations < self.max_invocations:
            progressed = False
            for mapping in self.mappings():
                if not self.enabled(mapping):
                    continue
                for shard_id in self._shard_ids(mapping["EventSourceArn"]):
                    if self.poll_shard(mapping, shard_id):
                        progressed = True
                        invocations += 1
            if not progressed:
                return self.stats
        logger.warning("stream poller stopped after %d invocations; a shard may be blocked", invocations)
        return self.stats

    def poll_shard(self, mapping: dict[str, Any], shard_id: str) -> bool:
        """Deliver (or discard) one batch from one shard; False when there is nothing to do."""
        state = self._state(mapping, shard_id)
        stats = self.stats.setdefault(mapping["UUID"], MappingStats())
        stream_arn = mapping["EventSourceArn"]
        if state.retry:
            batch = state.retry[0]
        else:
            records = self._read(stream_arn, shard_id, state.checkpoint, int(mapping.get("BatchSize", 100)))
            if not records:
                return False
            batch = _Batch(records)
            if state.carried and state.carried[0] == records[0]["SequenceNumber"]:
                batch.attempts = state.carried[1]
            state.carried = None
            state.retry.append(batch)
        expired = self._expired(mapping, batch.records)
        if expired:
            self._discard(mapping, shard_id, state, batch, expired, "RecordAgeExceeded", None, stats)
            return True
        response, error = self._invoke(mapping, shard_id, batch.records)
        stats.invocations += 1
        stats.records_delivered += len(batch.records)
        stats.batch_sizes.append(len(batch.records))
        failed_from = self._failed_from(mapping, batch.records, response) if error is None else 0
        if failed_from is None:
            stats.records_succeeded += len(batch.records)
            self._complete(state, batch, len(batch.records))
            return True
        if error is None and failed_from > 0:
            # A valid partial failure: checkpoint before the lowest failed record, retry from it.
            stats.partial_failures += 1
            stats.records_succeeded += failed_from
            self._complete(state, batch, failed_from)
            batch = state.retry[0]
        else:
            stats.function_errors += error is not None
            if error is None:
                stats.partial_failures += 1
        batch.attempts += 1
        bisect = (
            bool(mapping.get("BisectBatchOnFunctionError")) and error is not None and len(batch.records) > 1
        )
        if bisect:
            # Split the failed batch in two; each half is a new batch with its own retries.
            half = len(batch.records) // 2
            state.retry.popleft()
            state.retry.appendleft(_Batch(batch.records[half:], split=True))
            state.retry.appendleft(_Batch(batch.records[:half], split=True))
            stats.bisections += 1
            return True
        limit = int(mapping.get("MaximumRetryAttempts", -1))
        if limit != -1 and batch.attempts > limit:
            self._discard(
                mapping, shard_id, state, batch, batch.records, "RetryAttemptsExhausted", error, stats
            )
        elif not batch.split:
            # Lambda retries by reading again from the checkpoint, so the retry may hold more records.
            state.retry.popleft()
            state.carried = (batch.records[0]["SequenceNumber"], batch.attempts)
        return True

    def _complete(self, state: _ShardState, batch: _Batch, count: int) -> None:
        """Mark the first ``count`` records of the head batch done and move the checkpoint."""
        if count <= 0:
            return
        done = batch.records[:count]
        state.checkpoint = done[-1]["SequenceNumber"]
        rest = batch.records[count:]
        state.retry.popleft()
        if rest:
            state.retry.appendleft(_Batch(rest, batch.attempts, batch.split))

    def _expired(self, mapping: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        max_age = int(mapping.get("MaximumRecordAgeInSeconds", -1))
        if max_age == -1:
            return []
        now = self.clock()
        expired = []
        for record in records:
            if now - _epoch(record["ApproximateArrivalTimestamp"]) <= max_age:
                break
            expired.append(record)
        return expired

    def _event(self, mapping: dict[str, Any], shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        role = self._role(mapping["FunctionArn"])
        return {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record["PartitionKey"],
                        "sequenceNumber": record["SequenceNumber"],
                        "data": base64.b64encode(record["Data"]).decode("ascii"),
                        "approximateArrivalTimestamp": round(
                            _epoch(record["ApproximateArrivalTimestamp"]), 3
                        ),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard_id}:{record['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": role,
                    "awsRegion": self.region,
                    "eventSourceARN": mapping["EventSourceArn"],
                }
                for record in records
            ]
        }

    def _role(self, function_arn: str) -> str:
        return str(self.lambda_.get_function_configuration(FunctionName=function_arn)["Role"])

    def _invoke(
        self, mapping: dict[str, Any], shard_id: str, records: list[dict[str, Any]]
    ) -> tuple[Any, str | None]:
        response = self.lambda_.invoke(
            FunctionName=mapping["FunctionArn"],
            InvocationType="RequestResponse",
            Payload=json.dumps(self._event(mapping, shard_id, records)).encode(),
        )
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        return payload, response.get("FunctionError")

    @staticmethod
    def _failed_from(mapping: dict[str, Any], records: list[dict[str, Any]], response: Any) -> int | None:
        """Index of the lowest failed record, 0 for a whole-batch failure, None for success."""
        if REPORT_BATCH_ITEM_FAILURES not in (mapping.get("FunctionResponseTypes") or []):
            return None
        if not isinstance(response, dict):
            return None
        failures = response.get("batchItemFailures")
        if not failures:
            return None
        if not isinstance(failures, list):
            return 0
        positions = {record["SequenceNumber"]: index for index, record in enumerate(records)}
        lowest = len(records)
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or identifier not in positions:
                return 0  # Lambda fails the whole batch on a malformed report
            lowest = min(lowest, positions[identifier])
        return lowest

    # -- discarding --

    def _discard(
        self,
        mapping: dict[str, Any],
        shard_id: str,
        state: _ShardState,
        batch: _Batch,
        records: list[dict[str, Any]],
        condition: str,
        function_error: str | None,
        stats: MappingStats,
    ) -> None:
        info = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": mapping["FunctionArn"],
                "condition": condition,
                "approximateInvokeCount": batch.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": function_error or "",
            },
            "version": "1.0",
            "timestamp": delivery.lambda_time(),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["SequenceNumber"],
                "endSequenceNumber": records[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(records[0]["ApproximateArrivalTimestamp"]),
                "approximateArrivalOfLastRecord": _iso(records[-1]["ApproximateArrivalTimestamp"]),
                "batchSize": len(records),
                "streamArn": mapping["EventSourceArn"],
            },
        }
        stats.records_discarded += len(records)
        stats.discarded_batches.append(info)
        self._send_on_failure(mapping, shard_id, info, records)
        self._complete(state, batch, len(records))

    def _send_on_failure(
        self, mapping: dict[str, Any], shard_id: str, info: dict[str, Any], records: list[dict[str, Any]]
    ) -> None:
        destination = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if not destination:
            logger.warning("discarded %d records of %s with no OnFailure destination", len(records), shard_id)
            return
        if delivery.service_of(destination) == "s3":
            # For an S3 destination Lambda also includes the records themselves.
            stamp = dt.datetime.now(dt.UTC)
            key = (
                f"aws/lambda/{mapping['UUID']}/{shard_id}/{stamp:%Y/%m/%d}/"
                f"{stamp:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"
            )
            payload = {**info, "payload": self._event(mapping, shard_id, records)}
            self.session.client("s3", region_name=self.region).put_object(
                Bucket=destination.split(":::", 1)[1], Key=key, Body=json.dumps(payload).encode()
            )
        else:
            delivery.send(self.session, self.region, destination, json.dumps(info))


def _iso(value: Any) -> str:
    return delivery.lambda_time(dt.datetime.fromtimestamp(_epoch(value), dt.UTC))
