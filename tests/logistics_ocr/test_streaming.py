"""UC12's streaming path: the shared producer finds the changed files (by suffix, any folder) and the
stream consumer handler writes the same version-keyed records the polling Process step writes."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from logistics_ocr import samples
from scripts.localcloud.ai_standins import AIStandIns
from scripts.localcloud.textract import TextractStandIn
from shared.polling.keys import output_key
from shared.state import dead_letter_table_definition, state_table_definition
from shared.streaming import producer
from tests.conftest import REGION
from tests.handlers import load_handler

FILES = ("waybills/2026-11/WB-0001.pdf", "images/dock-3/label-0002.png", "waybills/broken/WB-locked.pdf")


@pytest.fixture
def streaming(access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="output")
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="changes", ShardCount=1)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**state_table_definition("state"))
    dynamodb.create_table(**dead_letter_table_definition("dlq"))
    environment = {
        "ACCESS_POINT": access_point["arn"],
        "OUTPUT_BUCKET": "output",
        "STREAM_NAME": "changes",
        "MANIFEST_BUCKET": "output",
        "SUFFIXES": ".pdf,.tif,.tiff,.jpg,.jpeg,.png",
        "QUIET_POLLS": "0",
        "STATE_TABLE": "state",
        "DLQ_TABLE": "dlq",
        "MODEL_ID": "amazon.nova-lite-v1:0",
        "USE_CASE": "logistics-ocr",
        "ENABLE_XRAY": "false",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    plan = {s.key: s for s in samples.plan()}
    for key in FILES:
        s3.put_object(Bucket=access_point["bucket"], Key=key, Body=plan[key].make())

    def read(b: str, k: str) -> bytes:
        return bytes(s3.get_object(Bucket=b, Key=k)["Body"].read())

    textract, ai = TextractStandIn(read), AIStandIns(read)
    textract.install()
    ai.install()
    try:
        yield s3, kinesis
    finally:
        ai.uninstall()
        textract.uninstall()


def test_changed_files_are_read_into_the_same_records_by_the_stream_consumer(streaming: Any) -> None:
    s3, kinesis = streaming
    assert producer.run()["emitted"] == len(FILES)
    shard = kinesis.list_shards(StreamName="changes")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="changes", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    event = {
        "Records": [
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
    }
    module = load_handler("use-cases/logistics-ocr/functions/stream_consumer")
    assert module.handler(event, None) == {"batchItemFailures": []}
    for key in FILES:
        etag = s3.head_object(Bucket="fsxn-volume", Key=key)["ETag"]
        document = json.loads(s3.get_object(Bucket="output", Key=output_key(key, etag))["Body"].read())
        sample = next(s for s in samples.plan() if s.key == key)
        assert document["status"] == ("FAILED" if sample.error else "SUCCEEDED")
        if not sample.error:
            assert [f["rule"] for f in document["findings"] if f["status"] == "FAIL"] == list(sample.failed)
