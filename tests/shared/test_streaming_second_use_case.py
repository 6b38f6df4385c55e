"""A second, non-retail use case runs through the shared producer, consumer, dead letters and replay.

The use case is a test double: it watches ``.csv`` ledgers below ``ledgers/`` and its per-file
processor counts the lines of a file, refusing an empty one. Nothing here comes from retail: the
listing filter is configuration and the processor is the only use-case code, which is the whole
contract :mod:`shared.streaming` offers a use case.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

import boto3
import pytest

from scripts.replay_dlq import replay
from shared.change_events import ChangeEvent
from shared.s3ap import S3AccessPoint
from shared.state import COMPLETED, FAILED, dead_letter_table_definition, state_table_definition
from shared.streaming import producer
from shared.streaming.consumer import ConsumerConfig, build_consumer, consume_batch
from shared.streaming.kinesis import StreamingConfig, StreamingHelper

logger = logging.getLogger(__name__)

REGION = "us-east-1"


class LineCounter:
    """The second use case's per-file processor: one result per ledger version, or a reason."""

    def __init__(self, source: S3AccessPoint) -> None:
        self.source = source
        self.seen: list[str] = []
        self.down = False  # a dependency outage: processing raises

    def __call__(self, file: ChangeEvent) -> Mapping[str, Any]:
        if self.down:
            raise ConnectionError("ledger service unavailable")
        self.seen.append(file.key)
        body = self.source.get_bytes(file.key, if_match=file.fingerprint.etag)
        if not body.strip():
            return {"status": "FAILED", "key": file.key, "reason": "empty ledger"}
        return {"status": "SUCCEEDED", "key": file.key, "lines": body.count(b"\n"), "output_key": None}


@pytest.fixture
def ledgers(access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="output")
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="ledger-changes", ShardCount=1)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**state_table_definition("ledger-state"))
    dynamodb.create_table(**dead_letter_table_definition("ledger-dlq"))
    for name, value in {
        "ACCESS_POINT": access_point["arn"],
        "STREAM_NAME": "ledger-changes",
        "MANIFEST_BUCKET": "output",
        "SUFFIXES": ".csv",
        "SOURCE_PREFIX": "ledgers/",
        "QUIET_POLLS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    for key, body in {
        "ledgers/2026/jan.csv": b"a,1\nb,2\n",
        "ledgers/2026/feb.csv": b"",
        "ledgers/2026/mar.csv": b"c,3\n",
        "ledgers/2026/scan.jpg": b"\xff\xd8",
        "images/apr.csv": b"d,4\n",
    }.items():
        s3.put_object(Bucket=access_point["bucket"], Key=key, Body=body)
    processor = LineCounter(S3AccessPoint(access_point["arn"], s3))
    consumer = build_consumer(ConsumerConfig("ledger-state", "ledger-dlq", "output"), processor)
    helper = StreamingHelper(StreamingConfig("ledger-changes"), kinesis, sleep=lambda s: None)
    return processor, consumer, kinesis, helper


def lambda_batch(kinesis: Any, after: str | None = None) -> list[dict[str, Any]]:
    """The stream's records as the event source mapping hands them to a function."""
    shard = kinesis.list_shards(StreamName="ledger-changes")["Shards"][0]["ShardId"]
    start: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
    if after:
        start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
    iterator = kinesis.get_shard_iterator(StreamName="ledger-changes", ShardId=shard, **start)
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return [
        {
            "eventID": f"{shard}:{r['SequenceNumber']}",
            "kinesis": {
                "partitionKey": r["PartitionKey"],
                "sequenceNumber": r["SequenceNumber"],
                "data": base64.b64encode(r["Data"]).decode(),
            },
        }
        for r in records
    ]


def test_a_second_use_case_streams_through_the_shared_skeleton(ledgers: Any) -> None:
    processor, consumer, kinesis, _ = ledgers
    summary = producer.run()
    assert summary["emitted"] == 3 and summary["failed_shards"] == []

    batch = lambda_batch(kinesis)
    report = consume_batch({"Records": batch}, consumer)
    assert report.response() == {"batchItemFailures": []}
    assert report.outcomes == {"completed": 2, "failed": 1} and report.dead_lettered == 1
    assert sorted(processor.seen) == ["ledgers/2026/feb.csv", "ledgers/2026/jan.csv", "ledgers/2026/mar.csv"]
    assert consumer.state.get("ledgers/2026/jan.csv").status == COMPLETED
    assert consumer.state.get("ledgers/2026/feb.csv").status == FAILED
    (letter,) = list(consumer.dead_letters.entries())
    assert (letter.kind, letter.key, letter.error) == ("failed", "ledgers/2026/feb.csv", "empty ledger")

    # Delivered again, the completed versions are refused as duplicates; the failed one is retried.
    again = consume_batch({"Records": batch}, consumer)
    assert again.outcomes == {"duplicate": 2, "failed": 1} and again.failures == []
    assert processor.seen[3:] == ["ledgers/2026/feb.csv"]


def test_an_outage_dead_letters_each_record_and_the_replay_completes_them(ledgers: Any) -> None:
    processor, consumer, kinesis, helper = ledgers
    producer.run()
    batch = lambda_batch(kinesis)
    processor.down = True
    report = consume_batch({"Records": batch}, consumer)
    assert report.failures == [r["kinesis"]["sequenceNumber"] for r in batch]
    assert report.outcomes == {"transient": 3} and report.dead_lettered == 3
    assert {d.kind for d in consumer.dead_letters.entries()} == {"transient"}

    # The outage ends; the replay re-puts what the state does not yet reflect.
    processor.down = False
    last = batch[-1]["kinesis"]["sequenceNumber"]
    summary = replay(consumer.dead_letters, helper, state=consumer.state)
    assert len(summary.replayed) == 3
    replayed = consume_batch({"Records": lambda_batch(kinesis, after=last)}, consumer)
    assert replayed.outcomes == {"completed": 2, "failed": 1}
    assert consumer.state.get("ledgers/2026/mar.csv").status == COMPLETED
    (letter,) = list(consumer.dead_letters.entries())
    assert letter.kind == "failed" and letter.key == "ledgers/2026/feb.csv"
