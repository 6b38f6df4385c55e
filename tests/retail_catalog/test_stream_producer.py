"""Tests for the stream producer handler on moto: access point, manifest bucket and a Kinesis stream."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared.change_events import ChangeEvent
from shared.errors import ConfigError
from shared.streaming.producer import ShardsFailedError
from tests.handlers import load_handler

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "retail-catalog/functions/stream_producer/handler.py"
SUMMARY_KEYS = {
    "shards",
    "listed",
    "created",
    "modified",
    "deleted",
    "emitted",
    "pending_quiet",
    "failed_shards",
}


@pytest.fixture
def producer(access_point: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="output")
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="changes", ShardCount=2)
    monkeypatch.setenv("ACCESS_POINT", access_point["arn"])
    monkeypatch.setenv("STREAM_NAME", "changes")
    monkeypatch.setenv("MANIFEST_BUCKET", "output")
    monkeypatch.setenv("SUFFIXES", ".jpg,.jpeg,.png,.webp")

    def put(key: str, body: bytes = b"\xff\xd8\xff\xe0 image") -> None:
        s3.put_object(Bucket=access_point["bucket"], Key=key, Body=body)

    return load_handler(HANDLER), put, s3, kinesis


def stream_events(kinesis: Any) -> list[tuple[str, ChangeEvent]]:
    out: list[tuple[str, ChangeEvent]] = []
    for shard in kinesis.list_shards(StreamName="changes")["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName="changes", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]:
            out.append((record["PartitionKey"], ChangeEvent.from_json(record["Data"])))
    return out


def test_default_quiet_period_emits_on_the_second_poll(producer: Any) -> None:
    handler, put, s3, kinesis = producer
    put("products/shoes/1.jpg")
    put("products/bags/2.png")
    put("notes/readme.txt")
    first = handler.handler({}, None)
    assert set(first) >= SUMMARY_KEYS
    assert first["emitted"] == 0 and first["pending_quiet"] == 2 and first["listed"] == 2
    second = handler.handler({}, None)
    assert second["created"] == 2 and second["emitted"] == 2 and second["failed_shards"] == []
    events = stream_events(kinesis)
    assert sorted(e.key for _, e in events) == ["products/bags/2.png", "products/shoes/1.jpg"]
    assert all(pk.startswith("products#") for pk, _ in events)  # the default prefix-hash strategy
    manifests = s3.list_objects_v2(Bucket="output", Prefix="manifests/")["Contents"]
    assert [m["Key"] for m in manifests] == ["manifests/shards/p-products%2F.jsonl.gz"]
    third = handler.handler({}, None)
    assert third["emitted"] == 0 and third["unchanged"] == 2


def test_environment_controls_strategy_quiet_period_suffixes_and_prefix(
    producer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, put, s3, kinesis = producer
    monkeypatch.setenv("PARTITION_STRATEGY", "prefix")
    monkeypatch.setenv("QUIET_POLLS", "0")
    monkeypatch.setenv("SUFFIXES", ".tif")
    monkeypatch.setenv("MANIFEST_PREFIX", "state/m/")
    put("scans/a.tif")
    put("scans/b.jpg")
    summary = handler.handler({}, None)
    assert summary["emitted"] == 1
    assert [(pk, e.key) for pk, e in stream_events(kinesis)] == [("scans", "scans/a.tif")]
    assert s3.list_objects_v2(Bucket="output", Prefix="state/m/shards/")["KeyCount"] == 1


def test_deletions_are_emitted(producer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler, put, s3, kinesis = producer
    monkeypatch.setenv("QUIET_POLLS", "0")
    put("a/1.jpg")
    put("a/2.jpg")
    handler.handler({}, None)
    s3.delete_object(Bucket="fsxn-volume", Key="a/2.jpg")
    summary = handler.handler({}, None)
    assert summary["deleted"] == 1
    kinds = sorted((e.event_type, e.key) for _, e in stream_events(kinesis))
    assert kinds == [("created", "a/1.jpg"), ("created", "a/2.jpg"), ("deleted", "a/2.jpg")]


def test_an_invalid_strategy_fails_the_invocation_with_a_clear_error(
    producer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, *_ = producer
    monkeypatch.setenv("PARTITION_STRATEGY", "round-robin")
    with pytest.raises(ConfigError, match="PARTITION_STRATEGY"):
        handler.handler({}, None)


def test_a_missing_stream_fails_the_shard_and_keeps_the_manifest(
    producer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, put, s3, _ = producer
    monkeypatch.setenv("QUIET_POLLS", "0")
    monkeypatch.setenv("STREAM_NAME", "no-such-stream")
    put("a/1.jpg")
    with pytest.raises(ShardsFailedError) as caught:
        handler.handler({}, None)
    details = caught.value.details
    assert details["summary"]["emitted"] == 0 and details["failed_shards"][0]["shard"] == "a/"
    assert "no-such-stream" in details["failed_shards"][0]["reason"]
    assert s3.list_objects_v2(Bucket="output").get("KeyCount", 0) == 0


def test_sample_event_is_the_scheduler_input(producer: Any) -> None:
    handler, put, *_ = producer
    sample = json.loads((ROOT / "retail-catalog/events/stream_producer.json").read_text())
    assert sample == {}
    put("x/1.jpg")
    assert handler.handler(sample, None)["shards"] == 1


def test_change_event_payload_is_versioned_json(producer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler, put, _, kinesis = producer
    monkeypatch.setenv("QUIET_POLLS", "0")
    put("a/1.jpg", b"12345")
    summary = handler.handler({}, None)
    shard = kinesis.list_shards(StreamName="changes")["Shards"]
    records = []
    for s in shard:
        iterator = kinesis.get_shard_iterator(
            StreamName="changes", ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += kinesis.get_records(ShardIterator=iterator)["Records"]
    (record,) = records
    document = json.loads(record["Data"])
    assert document["version"] == 1 and document["key"] == "a/1.jpg" and document["event_type"] == "created"
    assert document["fingerprint"]["size"] == 5 and document["fingerprint"]["etag"]
    assert document["run_id"] == summary["run_id"] and document["detected_at"].endswith("Z")
    assert base64.b64encode(record["Data"])  # raw bytes, not pre-encoded text


def test_the_listing_filter_is_required_configuration(producer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handler, put, *_ = producer
    monkeypatch.delenv("SUFFIXES")
    put("a/1.jpg")
    with pytest.raises(ConfigError, match="SUFFIXES"):
        handler.handler({}, None)


def test_source_prefix_limits_the_listing_and_shards_below_it(
    producer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, put, s3, kinesis = producer
    monkeypatch.setenv("QUIET_POLLS", "0")
    monkeypatch.setenv("SOURCE_PREFIX", "catalog")
    keys = ("catalog/top.jpg", "catalog/shoes/1.jpg", "catalog/bags/2.png", "other/3.jpg", "catalogue/4.jpg")
    for key in keys:
        put(key)
    summary = handler.handler({}, None)
    assert summary["shards"] == 3 and summary["emitted"] == 3
    keys = sorted(e.key for _, e in stream_events(kinesis))
    assert keys == ["catalog/bags/2.png", "catalog/shoes/1.jpg", "catalog/top.jpg"]
    manifests = [m["Key"] for m in s3.list_objects_v2(Bucket="output", Prefix="manifests/")["Contents"]]
    assert manifests == [
        "manifests/scoped/catalog%2F/shards/_root.jsonl.gz",
        "manifests/scoped/catalog%2F/shards/p-catalog%2Fbags%2F.jsonl.gz",
        "manifests/scoped/catalog%2F/shards/p-catalog%2Fshoes%2F.jsonl.gz",
    ]


def test_a_new_source_prefix_starts_its_own_manifests_and_never_announces_a_watched_file_deleted(
    producer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared import config

    handler, put, _, kinesis = producer
    monkeypatch.setenv("QUIET_POLLS", "0")
    put("catalog/top.jpg")
    put("catalog/shoes/1.jpg")
    put("other/2.jpg")
    assert handler.handler({}, None)["created"] == 3
    for prefix in ("catalog/", ""):  # narrowed, then widened again: shards move each time
        monkeypatch.setenv("SOURCE_PREFIX", prefix)
        config.reset()  # a new cold start reads the new environment
        summary = handler.handler({}, None)
        assert summary["deleted"] == 0 and summary["failed_shards"] == []
    assert [e.key for _, e in stream_events(kinesis) if e.event_type == "deleted"] == []
    # The widened scope is the first one again: its manifests were kept, so nothing is new.
    assert summary["created"] == 0 and summary["unchanged"] == 3
