"""Put back on the stream every record the consumer gave up on: dead letters and OnFailure ranges.

``python -m scripts.replay_dlq retail-catalog [--stack NAME] [--kind failed] [--dry-run]``
(or ``make replay-dlq UC=retail-catalog``). The dead-letter table, the stream, the state table,
the OnFailure queue and the output bucket (for dead letters kept in S3) are read from the stack's
outputs (``DeadLetterTableName``, ``ChangeStreamName``, ``StateTableName``,
``StreamFailureQueueUrl``, ``OutputBucketName``) unless given with ``--table``, ``--stream``,
``--state-table``, ``--queue`` and ``--bucket``.

Two sources:

* **Dead letters.** Each holds the record's payload exactly as delivered (or a pointer to it in
  the output bucket). A record whose change the state already reflects (a transient failure that
  a retry then fixed) is removed without a re-put. Any other record goes back on the stream with
  its original partition key, so it lands on the same shard; the consumer's version-conditioned
  state then processes it once or skips it as stale. A dead letter is removed only after
  PutRecords accepted its record, and only if it did not fail again meanwhile.
* **OnFailure ranges.** When the event source mapping gives up on a batch, its OnFailure message
  names the shard and the sequence range. The range is read back from the stream while it is
  within the stream's retention. A record that has a dead letter is left to the dead-letter pass,
  a record the state already reflects is counted as done, any other is re-put. The message is
  deleted once every record of its range is accepted, done or past retention.

The same queue also receives the producer's failed or expired invocations (its on-failure
destination). Those need no replay: a failed cycle kept the manifests of the shards it could not
finish, and an expired one changed nothing, so the next cycle detects the same changes. They are
removed with a note.

The summary says how many records were replayed, how many were already done, how many were past
retention, and which were kept (with the reason). Replaying twice is harmless: a record the
consumer already completed is refused as a duplicate, so nothing is processed twice.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.change_events import ChangeEvent, MalformedEventError
from shared.state import DeadLetter, DeadLetterOverflow, DeadLetterStore, StateStore, record_id_for
from shared.streaming.kinesis import (
    PutRecordsFailedError,
    StreamingConfig,
    StreamingHelper,
    StreamRecord,
)

logger = logging.getLogger(__name__)

OUTPUT_TABLE = "DeadLetterTableName"
OUTPUT_STREAM = "ChangeStreamName"
OUTPUT_STATE = "StateTableName"
OUTPUT_QUEUE = "StreamFailureQueueUrl"
OUTPUT_BUCKET = "OutputBucketName"
# Messages being worked on stay hidden this long; an unfinished one comes back for the next replay.
VISIBILITY_SECONDS = 600
MAX_EMPTY_READS = 20


@dataclass
class ReplaySummary:
    """What a replay did: record ids replayed or already done, records past retention, what was kept."""

    replayed: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)
    past_retention: int = 0
    ranges: int = 0
    kept: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"replayed {len(self.replayed)}, already done {len(self.already_done)}, "
            f"past retention {self.past_retention}, kept {len(self.kept)} "
            f"({self.ranges} OnFailure range(s) read)"
        ]
        out += [f"  {note}" for note in self.notes]
        out += [f"  kept {record_id}: {why}" for record_id, why in sorted(self.kept.items())]
        return out


# -- OnFailure ranges ------------------------------------------------------------------------------


@dataclass
class FailedRange:
    """One OnFailure message: a shard's sequence range the mapping discarded."""

    message_id: str
    receipt: str
    stream: str
    shard_id: str
    start: str
    end: str
    size: int
    unsettled: int = 0  # records re-put whose PutRecords outcome is not known yet
    refused: bool = False  # a record of it was not accepted: keep the message

    @classmethod
    def parse(cls, message_id: str, receipt: str, body: str) -> FailedRange | None:
        """The range in a Kinesis OnFailure record, or None if the body is not one."""
        try:
            info = json.loads(body)["KinesisBatchInfo"]
            return cls(
                message_id=message_id,
                receipt=receipt,
                stream=str(info["streamArn"]).split("/", 1)[1],
                shard_id=str(info["shardId"]),
                start=str(info["startSequenceNumber"]),
                end=str(info["endSequenceNumber"]),
                size=int(info["batchSize"]),
            )
        except (ValueError, KeyError, TypeError, IndexError):
            return None


class OnFailureQueue:
    """Reads the SQS queue the event source mapping sends its OnFailure records to."""

    def __init__(self, url: str, client: Any) -> None:
        self.url = url
        self.client = client

    def messages(self, *, peek: bool = False) -> Iterator[tuple[str, str, str]]:
        """``(message id, receipt handle, body)`` of every message, each once.

        ``peek`` (a dry run) leaves every message visible at once; the loop ends when the queue
        returns only messages it has already given.
        """
        seen: set[str] = set()
        while True:
            response = self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=0 if peek else VISIBILITY_SECONDS,
            )
            fresh = [m for m in response.get("Messages", ()) if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                yield message["MessageId"], message["ReceiptHandle"], message["Body"]

    def delete(self, receipt: str) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)


class StreamReader:
    """Reads a sequence range of one shard back from the stream, within its retention."""

    def __init__(self, client: Any, *, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock
        self._retention: dict[str, float] = {}

    def retention_seconds(self, stream: str) -> float:
        if stream not in self._retention:
            summary = self.client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
            self._retention[stream] = float(summary["RetentionPeriodHours"]) * 3600
        return self._retention[stream]

    def read(self, stream: str, shard_id: str, start: str, end: str) -> list[dict[str, Any]]:
        """The records of ``[start, end]`` still within retention (an empty list if the shard is gone)."""
        from botocore.exceptions import ClientError

        try:
            iterator = self.client.get_shard_iterator(
                StreamName=stream,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=start,
            )["ShardIterator"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {
                "ResourceNotFoundException",
                "InvalidArgumentException",
            }:
                logger.warning("range %s..%s of %s is no longer readable: %s", start, end, shard_id, error)
                return []
            raise
        oldest = self.clock() - self.retention_seconds(stream)
        last, found = int(end), list[dict[str, Any]]()
        empty_reads = 0
        while iterator:
            response = self.client.get_records(ShardIterator=iterator, Limit=1000)
            records = response.get("Records", [])
            for record in records:
                if int(record["SequenceNumber"]) > last:
                    return found
                if _epoch(record["ApproximateArrivalTimestamp"]) >= oldest:
                    found.append(record)
            # Caught up with the shard's tip: nothing later to read. Kinesis may answer an empty
            # page while behind, so a few empty pages are read through before giving up.
            empty_reads = 0 if records else empty_reads + 1
            if not response.get("MillisBehindLatest", 0) or empty_reads >= MAX_EMPTY_READS:
                return found
            iterator = response.get("NextShardIterator")
        return found


def _producer_condition(body: str) -> str | None:
    """How a Lambda asynchronous invocation record ended (``RetriesExhausted``, ...), or None."""
    try:
        record = json.loads(body)
        condition = record["requestContext"]["condition"]
    except (ValueError, KeyError, TypeError):
        return None
    if "KinesisBatchInfo" in record or "requestPayload" not in record or not isinstance(condition, str):
        return None
    return condition


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


# -- the replay ------------------------------------------------------------------------------------


def _payload(letter: DeadLetter) -> bytes | None:
    try:
        return base64.b64decode(letter.data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _event(payload: bytes) -> ChangeEvent | None:
    try:
        return ChangeEvent.from_json(payload)
    except MalformedEventError:
        return None


def _done(state: StateStore | None, event: ChangeEvent | None) -> bool:
    return (
        state is not None
        and event is not None
        and state.applied(event.key, event.event_type, event.fingerprint, event.detected_at)
    )


@dataclass(frozen=True)
class _Origin:
    record_id: str
    letter: DeadLetter | None = None
    span: FailedRange | None = None


def replay(
    dead_letters: DeadLetterStore,
    helper: StreamingHelper,
    *,
    state: StateStore | None = None,
    failures: OnFailureQueue | None = None,
    reader: StreamReader | None = None,
    kinds: Sequence[str] = (),
    dry_run: bool = False,
) -> ReplaySummary:
    """Re-put every dead letter and OnFailure record that still needs it (see the module docstring)."""
    summary = ReplaySummary()
    records: list[StreamRecord] = []
    letters = list(dead_letters.entries())
    covered = {letter.record_id for letter in letters}
    for letter in letters:
        if kinds and letter.kind not in kinds:
            continue
        payload = _payload(letter)
        if payload is None:
            summary.kept[letter.record_id] = "payload is not valid base64; the original bytes are unknown"
            continue
        event = _event(payload)
        if _done(state, event):
            if dry_run or dead_letters.remove(letter):
                summary.already_done.append(letter.record_id)
            continue
        key = letter.partition_key
        if key in ("", "-"):
            key = helper.partition_key(event.key) if event is not None else "dead-letter-replay"
        records.append(StreamRecord(payload, key, tag=_Origin(letter.record_id, letter=letter)))

    spans: list[FailedRange] = []
    if failures is not None and reader is not None:
        for message_id, receipt, body in failures.messages(peek=dry_run):
            span = FailedRange.parse(message_id, receipt, body)
            if span is None:
                condition = _producer_condition(body)
                if condition is None:
                    summary.kept[message_id] = "OnFailure message without KinesisBatchInfo; left in the queue"
                    continue
                if not dry_run:
                    failures.delete(receipt)
                summary.notes.append(
                    f"producer invocation {message_id} ended {condition}: nothing to replay, the next "
                    "cycle detects its changes again" + (" (would be removed)" if dry_run else "; removed")
                )
                continue
            spans.append(span)
            summary.ranges += 1
            found = reader.read(span.stream, span.shard_id, span.start, span.end)
            missing = max(0, span.size - len(found))
            if missing:
                summary.past_retention += missing
                summary.notes.append(
                    f"{missing} of {span.size} record(s) of {span.shard_id} {span.start}..{span.end} "
                    "are past the stream's retention; the hourly polling run reprocesses their files"
                )
            for found_record in found:
                data = found_record["Data"]
                partition_key = found_record["PartitionKey"]
                record_id = record_id_for(partition_key, base64.b64encode(data).decode("ascii"))
                if record_id in covered:
                    continue  # its dead letter is replayed (or kept) by the pass above
                covered.add(record_id)
                if _done(state, _event(data)):
                    summary.already_done.append(record_id)
                    continue
                span.unsettled += 1
                records.append(StreamRecord(data, partition_key, tag=_Origin(record_id, span=span)))

    if dry_run:
        summary.replayed = [r.tag.record_id for r in records]
        return summary
    not_accepted: set[int] = set()
    try:
        helper.put_records(records)
    except PutRecordsFailedError as error:
        logger.error("%s", error.reason)
        not_accepted = {id(r) for r in error.records}
    for record in records:
        origin: _Origin = record.tag
        if id(record) in not_accepted:
            summary.kept[origin.record_id] = "the stream did not accept it; run the replay again"
            if origin.span is not None:
                origin.span.refused = True
        elif origin.letter is not None and not dead_letters.remove(origin.letter):
            summary.kept[origin.record_id] = (
                "re-put, but it failed again meanwhile; kept with its new failure"
            )
        else:
            summary.replayed.append(origin.record_id)
    for span in spans:
        if not span.refused:
            assert failures is not None
            failures.delete(span.receipt)
    return summary


def stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    import boto3

    cfn = boto3.client("cloudformation", region_name=region)
    stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("uc", nargs="?", default="retail-catalog", help="use case (default retail-catalog)")
    parser.add_argument("--stack", help="stack name (default: the deploy default for the use case)")
    parser.add_argument("--region")
    parser.add_argument("--table", help="dead-letter table name")
    parser.add_argument("--stream", help="Kinesis stream name")
    parser.add_argument("--state-table", help="state table name (to skip records already done)")
    parser.add_argument("--queue", help="URL of the OnFailure queue (to replay discarded ranges)")
    parser.add_argument("--bucket", help="output bucket (for dead letters kept in S3)")
    parser.add_argument("--kind", action="append", choices=["malformed", "failed", "transient"], default=[])
    parser.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    table, stream, state_table, queue, bucket = (
        args.table,
        args.stream,
        args.state_table,
        args.queue,
        args.bucket,
    )
    if not (table and stream):
        from scripts import catalog
        from scripts.deploy import default_stack_name

        stack = args.stack or default_stack_name(catalog.find(args.uc))
        outputs = stack_outputs(stack, args.region)
        table = table or outputs.get(OUTPUT_TABLE)
        stream = stream or outputs.get(OUTPUT_STREAM)
        state_table = state_table or outputs.get(OUTPUT_STATE)
        queue = queue or outputs.get(OUTPUT_QUEUE)
        bucket = bucket or outputs.get(OUTPUT_BUCKET)
        if not (table and stream):
            message = f"stack {stack} has no {OUTPUT_TABLE}/{OUTPUT_STREAM} outputs: is streaming enabled?"
            print(message, file=sys.stderr)
            return 2

    import boto3

    dynamodb = boto3.client("dynamodb", region_name=args.region)
    kinesis = boto3.client("kinesis", region_name=args.region)
    s3 = boto3.client("s3", region_name=args.region)
    summary = replay(
        DeadLetterStore(table, dynamodb, overflow=DeadLetterOverflow(bucket or "", s3)),
        StreamingHelper(StreamingConfig(stream), kinesis),
        state=StateStore(state_table, dynamodb) if state_table else None,
        failures=OnFailureQueue(queue, boto3.client("sqs", region_name=args.region)) if queue else None,
        reader=StreamReader(kinesis),
        kinds=args.kind,
        dry_run=args.dry_run,
    )
    for line in summary.lines():
        print(("(dry run) " if args.dry_run else "") + line)
    return 1 if summary.kept else 0


if __name__ == "__main__":
    raise SystemExit(main())
