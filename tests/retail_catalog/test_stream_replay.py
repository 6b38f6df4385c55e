"""Tests for ``make replay-dlq``: dead letters and OnFailure ranges go back on the stream, once."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import pytest

from scripts.replay_dlq import OnFailureQueue, StreamReader, replay
from shared.change_events import ChangeEvent, Fingerprint
from shared.state import (
    DeadLetterStore,
    StateStore,
    dead_letter_table_definition,
    state_table_definition,
)
from shared.streaming.kinesis import StreamingConfig, StreamingHelper

FP = Fingerprint("e1", 10, "2026-01-01T00:00:00+00:00")
T1, T2 = "2026-01-01T00:01:00.000000Z", "2026-01-01T00:11:00.000000Z"
REGION = "us-east-1"


class Rig:
    def __init__(self) -> None:
        self.kinesis = boto3.client("kinesis", region_name=REGION)
        self.kinesis.create_stream(StreamName="changes", ShardCount=1)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**state_table_definition("state"))
        dynamodb.create_table(**dead_letter_table_definition("dlq"))
        self.state = StateStore("state", dynamodb)
        self.dlq = DeadLetterStore("dlq", dynamodb)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue = self.sqs.create_queue(QueueName="stream-failures")["QueueUrl"]
        self.shard = self.kinesis.list_shards(StreamName="changes")["Shards"][0]["ShardId"]
        self.helper = StreamingHelper(StreamingConfig("changes"), self.kinesis, sleep=lambda s: None)

    def put(self, data: bytes, partition_key: str = "p#0") -> str:
        response = self.kinesis.put_record(StreamName="changes", Data=data, PartitionKey=partition_key)
        return str(response["SequenceNumber"])

    def on_failure(self, start: str, end: str, size: int) -> None:
        """The OnFailure record the event source mapping sends when it discards a batch."""
        info = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
            "KinesisBatchInfo": {
                "shardId": self.shard,
                "startSequenceNumber": start,
                "endSequenceNumber": end,
                "batchSize": size,
                "streamArn": f"arn:aws:kinesis:{REGION}:123456789012:stream/changes",
            },
        }
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps(info))

    def stream(self) -> list[dict[str, Any]]:
        iterator = self.kinesis.get_shard_iterator(
            StreamName="changes", ShardId=self.shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return list(self.kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"])

    def replay(self, *, clock: float | None = None, dry_run: bool = False) -> Any:
        reader = StreamReader(self.kinesis, clock=(lambda: clock) if clock else time.time)
        return replay(self.dlq, self.helper, state=self.state, failures=OnFailureQueue(self.queue, self.sqs),
                      reader=reader, dry_run=dry_run)  # fmt: skip

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


def change(key: str, kind: str = "created", t: str = T1) -> bytes:
    return ChangeEvent(key, kind, FP, t, "r1").to_json().encode()


@pytest.fixture
def rig(aws: None) -> Rig:
    return Rig()


def test_an_on_failure_range_is_read_back_and_only_what_is_not_done_is_replayed_once(rig: Rig) -> None:
    done = rig.put(change("a/done.jpg"))
    rig.put(change("a/todo.jpg"))
    rig.put(change("a/lettered.jpg"))
    rig.put(change("a/gone.jpg", "deleted", T1))
    last = rig.put(b"\xff not utf-8")  # its malformed dead letter was never written (throttled)
    claim = rig.state.claim("a/done.jpg", FP, detected_at=T1, token="t", timeout_seconds=60)
    assert rig.state.complete(claim)
    assert rig.state.mark_deleted("a/gone.jpg", FP, detected_at=T2)
    data = base64.b64encode(change("a/lettered.jpg")).decode()
    rig.dlq.record(partition_key="p#0", data=data, raw={"kinesis": {"data": data, "partitionKey": "p#0"}},
                   kind="transient", error="TimeoutError", stack_trace="", key="a/lettered.jpg")  # fmt: skip
    rig.on_failure(done, last, 5)

    preview = rig.replay(dry_run=True)
    assert (len(preview.replayed), len(preview.already_done), preview.ranges) == (3, 2, 1)
    assert rig.queued() == 1 and len(list(rig.dlq.entries())) == 1  # a dry run changes nothing

    summary = rig.replay()
    assert (len(summary.replayed), len(summary.already_done), summary.past_retention) == (3, 2, 0)
    assert summary.kept == {}
    replayed = [r["Data"] for r in rig.stream()[5:]]
    # The dead letter is put back by its own pass and not a second time from the range.
    assert sorted(replayed) == sorted([change("a/lettered.jpg"), change("a/todo.jpg"), b"\xff not utf-8"])
    assert rig.queued() == 0 and list(rig.dlq.entries()) == []
    assert "replayed 3, already done 2, past retention 0, kept 0" in summary.lines()[0]

    again = rig.replay()
    assert (again.replayed, again.already_done, again.ranges) == ([], [], 0)
    assert len(rig.stream()) == 8


def test_records_past_the_stream_retention_are_counted_and_the_range_is_settled(rig: Rig) -> None:
    first = rig.put(change("a/1.jpg"))
    last = rig.put(change("a/2.jpg"))
    rig.on_failure(first, last, 2)
    summary = rig.replay(clock=time.time() + 25 * 3600)  # the stream keeps records 24 hours
    assert (summary.replayed, summary.past_retention) == ([], 2)
    assert "past the stream's retention" in summary.notes[0]
    assert rig.queued() == 0


def test_a_range_with_records_already_trimmed_counts_the_missing_ones(rig: Rig) -> None:
    first = rig.put(change("a/1.jpg"))
    rig.on_failure(first, first, 3)  # three were discarded; only one can still be read
    summary = rig.replay()
    assert (len(summary.replayed), summary.past_retention) == (1, 2)


def test_a_message_that_is_not_an_on_failure_record_is_kept(rig: Rig) -> None:
    rig.sqs.send_message(QueueUrl=rig.queue, MessageBody="hello")
    summary = rig.replay()
    assert list(summary.kept.values()) == ["OnFailure message without KinesisBatchInfo; left in the queue"]
    assert rig.queued() == 1


def test_a_failed_or_expired_producer_invocation_is_removed_with_a_note_and_nothing_replayed(
    rig: Rig,
) -> None:
    for condition in ("RetriesExhausted", "EventAgeExceeded"):
        context = {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:1:function:p:$LATEST"}
        record = {
            "version": "1.0",
            "requestContext": {**context, "condition": condition, "approximateInvokeCount": 1},
            "requestPayload": {"trigger": "schedule"},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        }
        rig.sqs.send_message(QueueUrl=rig.queue, MessageBody=json.dumps(record))
    dry = rig.replay(dry_run=True)
    assert dry.kept == {} and dry.replayed == [] and len(dry.notes) == 2
    assert all("(would be removed)" in note for note in dry.notes)
    summary = rig.replay()
    assert summary.kept == {} and summary.replayed == [] and rig.stream() == []
    assert sorted(note.split(" ended ")[1].split(":")[0] for note in summary.notes) == [
        "EventAgeExceeded",
        "RetriesExhausted",
    ]
    assert rig.queued() == 0


class PagedKinesis:
    """GetRecords pages as Kinesis may serve them: an empty page while still behind the tip."""

    def __init__(self, pages: list[tuple[list[int], int]]) -> None:
        self.pages = pages
        self.reads = 0

    def describe_stream_summary(self, StreamName: str) -> dict[str, Any]:  # noqa: N803
        return {"StreamDescriptionSummary": {"RetentionPeriodHours": 24}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "it-0"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        sequences, behind = self.pages[self.reads]
        self.reads += 1
        records = [{"SequenceNumber": str(n), "ApproximateArrivalTimestamp": time.time()} for n in sequences]
        return {"Records": records, "MillisBehindLatest": behind, "NextShardIterator": f"it-{self.reads}"}


def test_a_range_is_read_through_empty_pages_until_its_end() -> None:
    client = PagedKinesis([([1, 2], 5000), ([], 4000), ([3], 3000), ([4, 9], 0)])
    found = StreamReader(client).read("changes", "shard-0", "1", "4")
    assert [r["SequenceNumber"] for r in found] == ["1", "2", "3", "4"]


def test_reading_stops_at_the_tip_of_the_shard() -> None:
    client = PagedKinesis([([1], 0), ([2], 0)])
    assert [r["SequenceNumber"] for r in StreamReader(client).read("changes", "s", "1", "9")] == ["1"]
    assert client.reads == 1


def test_replay_follows_the_pointer_of_a_dead_letter_kept_in_the_output_bucket(rig: Rig) -> None:
    from shared.state import DeadLetterOverflow

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="output")
    rig.dlq.overflow = DeadLetterOverflow("output", s3)
    document = {**json.loads(change("a/big.jpg")), "padding": "x" * 500_000}  # unknown fields are ignored
    payload = json.dumps(document).encode()
    data = base64.b64encode(payload).decode()
    rig.dlq.record(partition_key="p#0", data=data, raw={"kinesis": {"data": data, "partitionKey": "p#0"}},
                   kind="transient", error="TimeoutError", stack_trace="", key="a/big.jpg")  # fmt: skip
    (letter,) = list(rig.dlq.entries())
    assert letter.raw_location is not None
    summary = rig.replay()
    assert len(summary.replayed) == 1 and summary.kept == {}
    assert [r["Data"] for r in rig.stream()] == [payload]
    assert list(rig.dlq.entries()) == [] and not s3.list_objects_v2(Bucket="output").get("Contents")
