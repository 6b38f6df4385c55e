"""The stream poller against Lambda's Kinesis event source mapping semantics."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from scripts.localcloud import LocalCloud

# Records carry {"n": i, "fail": bool}. "report" answers with fail-fast batch item failures,
# "raise" raises if any record in the batch fails, "bad" reports an unknown identifier.
CONSUMER = """
import base64, json

def handler(event, context):
    records = event["Records"]
    bodies = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in records]
    mode = bodies[0].get("mode", "report")
    for index, body in enumerate(bodies):
        if body.get("fail"):
            if mode == "raise":
                raise RuntimeError("poison record %s" % body["n"])
            if mode == "bad":
                return {"batchItemFailures": [{"itemIdentifier": ""}]}
            failed = records[index:]
            return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in failed]}
    return {"batchItemFailures": []}
"""


class Stream:
    """One stream + consumer + mapping, with helpers to see what was delivered."""

    def __init__(
        self, cloud: LocalCloud, make_function: Callable[..., str], name: str, **mapping: Any
    ) -> None:
        self.cloud = cloud
        self.name = name
        kinesis = cloud.client("kinesis")
        kinesis.create_stream(StreamName=name, ShardCount=1)
        self.arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
        self.function = f"{name}-consumer"
        make_function(self.function, {"handler.py": CONSUMER})
        self.queue_url = cloud.client("sqs").create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        queue_arn = f"arn:aws:sqs:us-east-1:123456789012:{name}-dlq"
        spec = {
            "FunctionName": self.function,
            "EventSourceArn": self.arn,
            "StartingPosition": "TRIM_HORIZON",
            "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
            **mapping,
        }
        self.uuid = cloud.client("lambda").create_event_source_mapping(**spec)["UUID"]
        cloud.poller.attach()
        self._seen = len(cloud.runtime.invocations)

    def put(self, *bodies: dict[str, Any]) -> None:
        self.cloud.client("kinesis").put_records(
            StreamName=self.name,
            Records=[{"Data": json.dumps(b).encode(), "PartitionKey": str(b["n"])} for b in bodies],
        )

    def deliveries(self) -> list[list[int]]:
        """The record numbers of every batch delivered to this consumer since the last call."""
        batches = []
        for invocation in self.cloud.runtime.invocations[self._seen :]:
            if invocation.function_name != self.function:
                continue
            batches.append(
                [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in invocation.event["Records"]]
            )
        self._seen = len(self.cloud.runtime.invocations)
        return batches

    def dead_letters(self) -> list[dict[str, Any]]:
        messages = self.cloud.client("sqs").receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def bodies(count: int, fail: set[int] = frozenset(), mode: str = "report") -> list[dict[str, Any]]:  # type: ignore[assignment]
    return [{"n": i, "fail": i in fail, "mode": mode} for i in range(count)]


def test_moto_does_not_deliver_records_by_itself(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    stream = Stream(cloud, make_function, "quiet", BatchSize=10)
    stream.put(*bodies(3))
    assert stream.deliveries() == []
    cloud.poll_streams()
    assert stream.deliveries() == [[0, 1, 2]]


def test_batch_size_and_the_kinesis_event_shape(cloud: LocalCloud, make_function: Callable[..., str]) -> None:
    stream = Stream(cloud, make_function, "shape", BatchSize=4)
    stream.put(*bodies(10))
    cloud.poll_streams()
    assert stream.deliveries() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    event = cloud.runtime.invocations[-1].event
    record = event["Records"][0]
    assert set(record["kinesis"]) == {
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    }
    assert record["kinesis"]["partitionKey"] == "8"
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventSourceARN"] == stream.arn
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventID"] == f"shardId-000000000000:{record['kinesis']['sequenceNumber']}"
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::")


def test_partial_failure_is_redelivered_from_the_lowest_failed_record(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    stream = Stream(
        cloud,
        make_function,
        "partial",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
    )
    stream.put(*bodies(8, fail={4}))
    stats = cloud.poll_streams()[stream.uuid]
    # Records 0-3 are checkpointed; 4-7 come again once (one retry), then go to OnFailure.
    assert stream.deliveries() == [[0, 1, 2, 3, 4, 5, 6, 7], [4, 5, 6, 7]]
    assert stats.records_discarded == 4
    letters = stream.dead_letters()
    assert len(letters) == 1
    info = letters[0]["KinesisBatchInfo"]
    assert info["batchSize"] == 4
    assert info["streamArn"] == stream.arn
    assert letters[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_bisect_splits_a_failing_batch_until_the_poison_record_is_alone(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    stream = Stream(
        cloud, make_function, "bisect", BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0
    )
    stream.put(*bodies(8, fail={5}, mode="raise"))
    stats = cloud.poll_streams()[stream.uuid]
    assert stream.deliveries() == [
        [0, 1, 2, 3, 4, 5, 6, 7],
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [4, 5],
        [4],
        [5],
        [6, 7],
    ]
    assert stats.bisections == 3
    assert stats.records_discarded == 1
    [letter] = stream.dead_letters()
    assert letter["KinesisBatchInfo"]["batchSize"] == 1
    assert letter["responseContext"]["functionError"] == "Unhandled"


def test_poison_record_goes_to_on_failure_after_the_retry_limit(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    stream = Stream(cloud, make_function, "poison", BatchSize=1, MaximumRetryAttempts=2)
    stream.put(*bodies(3, fail={1}, mode="raise"))
    cloud.poll_streams()
    assert stream.deliveries() == [[0], [1], [1], [1], [2]]
    [letter] = stream.dead_letters()
    assert letter["requestContext"]["approximateInvokeCount"] == 3


def test_invalid_item_identifier_fails_the_whole_batch(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    stream = Stream(
        cloud,
        make_function,
        "badid",
        BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
    )
    stream.put(*bodies(3, fail={2}, mode="bad"))
    cloud.poll_streams()
    assert stream.deliveries() == [[0, 1, 2], [0, 1, 2]]
    assert stream.dead_letters()[0]["KinesisBatchInfo"]["batchSize"] == 3


def test_disabled_mapping_does_not_deliver(cloud: LocalCloud, make_function: Callable[..., str]) -> None:
    stream = Stream(cloud, make_function, "disabled", BatchSize=10, Enabled=False)
    stream.put(*bodies(3))
    cloud.poll_streams()
    assert stream.deliveries() == []
    cloud.client("lambda").update_event_source_mapping(UUID=stream.uuid, Enabled=True)
    cloud.poll_streams()
    assert stream.deliveries() == [[0, 1, 2]]


def test_latest_skips_records_put_before_the_mapping_started(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    kinesis = cloud.client("kinesis")
    kinesis.create_stream(StreamName="latest", ShardCount=1)
    kinesis.put_record(StreamName="latest", Data=json.dumps({"n": 99}).encode(), PartitionKey="x")
    stream_arn = kinesis.describe_stream(StreamName="latest")["StreamDescription"]["StreamARN"]
    make_function("latest-consumer", {"handler.py": CONSUMER})
    cloud.client("lambda").create_event_source_mapping(
        FunctionName="latest-consumer", EventSourceArn=stream_arn, StartingPosition="LATEST", BatchSize=10
    )
    cloud.poller.attach()
    kinesis.put_record(StreamName="latest", Data=json.dumps({"n": 1}).encode(), PartitionKey="x")
    before = len(cloud.runtime.invocations)
    cloud.poll_streams()
    delivered = [i for i in cloud.runtime.invocations[before:] if i.function_name == "latest-consumer"]
    numbers = [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in delivered[0].event["Records"]]
    assert numbers == [1]


def test_records_older_than_the_maximum_age_are_discarded(
    cloud: LocalCloud, make_function: Callable[..., str], clock: Any
) -> None:
    stream = Stream(cloud, make_function, "aged", BatchSize=10, MaximumRecordAgeInSeconds=60)
    stream.put(*bodies(2))
    clock.now += 3600
    try:
        stats = cloud.poll_streams()[stream.uuid]
    finally:
        clock.now -= 3600
    assert stream.deliveries() == []
    assert stats.records_discarded == 2
    [letter] = stream.dead_letters()
    assert letter["requestContext"]["condition"] == "RecordAgeExceeded"


@pytest.mark.parametrize("destination", ["sns", "s3"])
def test_on_failure_destination_can_be_a_topic_or_a_bucket(
    cloud: LocalCloud, make_function: Callable[..., str], destination: str
) -> None:
    name = f"dest-{destination}"
    if destination == "sns":
        target = cloud.client("sns").create_topic(Name=f"{name}-topic")["TopicArn"]
        queue = cloud.client("sqs").create_queue(QueueName=f"{name}-sub")["QueueUrl"]
        cloud.client("sns").subscribe(
            TopicArn=target, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:123456789012:{name}-sub"
        )
    else:
        cloud.client("s3").create_bucket(Bucket=f"{name}-bucket")
        target = f"arn:aws:s3:::{name}-bucket"
    stream = Stream(
        cloud,
        make_function,
        name,
        BatchSize=1,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": target}},
    )
    stream.put(*bodies(1, fail={0}, mode="raise"))
    cloud.poll_streams()
    if destination == "sns":
        messages = cloud.client("sqs").receive_message(QueueUrl=queue)["Messages"]
        body = json.loads(json.loads(messages[0]["Body"])["Message"])
        assert body["KinesisBatchInfo"]["batchSize"] == 1
    else:
        keys = cloud.client("s3").list_objects_v2(Bucket=f"{name}-bucket")["Contents"]
        stored = json.loads(
            cloud.client("s3").get_object(Bucket=f"{name}-bucket", Key=keys[0]["Key"])["Body"].read()
        )
        assert keys[0]["Key"].startswith(f"aws/lambda/{stream.uuid}/shardId-000000000000/")
        assert len(stored["payload"]["Records"]) == 1


def test_a_retry_reads_again_from_the_checkpoint_and_picks_up_newer_records(
    cloud: LocalCloud, make_function: Callable[..., str]
) -> None:
    stream = Stream(
        cloud,
        make_function,
        "reread",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
    )
    stream.put(*bodies(4, fail={2}))
    [mapping] = [m for m in cloud.poller.mappings() if m["UUID"] == stream.uuid]
    assert cloud.poller.poll_shard(mapping, "shardId-000000000000")
    stream.put({"n": 4, "fail": False, "mode": "report"}, {"n": 5, "fail": False, "mode": "report"})
    cloud.poll_streams()
    assert stream.deliveries() == [[0, 1, 2, 3], [2, 3, 4, 5]]
    [letter] = stream.dead_letters()
    assert letter["KinesisBatchInfo"]["batchSize"] == 4
