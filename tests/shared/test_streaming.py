"""Tests for the Kinesis producer helper: limits, partition keys, and retries that lose nothing."""

from __future__ import annotations

import json
import random
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.streaming.kinesis import (
    MAX_BYTES_PER_REQUEST,
    MAX_RECORD_BYTES,
    MAX_RECORDS_PER_REQUEST,
    PutRecordsFailedError,
    RecordTooLargeError,
    StreamingConfig,
    StreamingError,
    StreamingHelper,
    StreamRecord,
    iter_batches,
    partition_key,
)

configs = st.builds(
    StreamingConfig,
    stream_name=st.text(min_size=1, max_size=20),
    partition_strategy=st.sampled_from(["prefix", "prefix-hash", "key-hash"]),
    partition_buckets=st.integers(1, 64),
    max_records_per_request=st.integers(1, 500),
    max_bytes_per_request=st.integers(MAX_RECORD_BYTES, MAX_BYTES_PER_REQUEST),
    max_attempts=st.integers(1, 20),
    base_delay_seconds=st.floats(0, 1),
    max_delay_seconds=st.floats(1, 30),
)


@given(configs)
def test_config_round_trips_through_dict_and_json(config: StreamingConfig) -> None:
    assert StreamingConfig.from_dict(config.to_dict()) == config
    assert StreamingConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    "bad",
    [
        {"stream_name": ""},
        {"stream_name": "s", "partition_strategy": "random"},
        {"stream_name": "s", "partition_buckets": 0},
        {"stream_name": "s", "max_records_per_request": 501},
        {"stream_name": "s", "max_bytes_per_request": MAX_BYTES_PER_REQUEST + 1},
        {"stream_name": "s", "max_attempts": 0},
    ],
)
def test_config_rejects_invalid_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages, one type
        StreamingConfig(**bad)


def test_config_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown"):
        StreamingConfig.from_dict({"stream_name": "s", "shards": 2})


# -- partition keys --------------------------------------------------------------------------------


def test_prefix_strategy_is_the_first_directory() -> None:
    assert partition_key("products/shoes/a.jpg", "prefix") == "products"
    assert partition_key("a.jpg", "prefix") == "_root"


def test_prefix_hash_spreads_a_hot_prefix_over_buckets_but_keeps_one_key_on_one() -> None:
    keys = [f"products/{i}.jpg" for i in range(400)]
    pks = {partition_key(k, "prefix-hash", 8) for k in keys}
    assert pks == {f"products#{n}" for n in range(8)}
    assert all(partition_key(k, "prefix-hash", 8) == partition_key(k, "prefix-hash", 8) for k in keys)


def test_key_hash_is_stable_and_short() -> None:
    assert partition_key("a/b.jpg", "key-hash") == partition_key("a/b.jpg", "key-hash")
    assert partition_key("a/b.jpg", "key-hash") != partition_key("a/c.jpg", "key-hash")
    assert len(partition_key("a/b.jpg", "key-hash")) == 32


@given(st.text(min_size=1, max_size=600), st.sampled_from(["prefix", "prefix-hash", "key-hash"]))
def test_partition_keys_always_fit_kinesis(key: str, strategy: str) -> None:
    pk = partition_key(key, strategy, 16)
    assert 1 <= len(pk) <= 256


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown partition strategy"):
        partition_key("a", "round-robin")


# -- batching --------------------------------------------------------------------------------------

record_lists = st.lists(
    st.tuples(st.integers(0, 3000), st.text(min_size=1, max_size=8)), min_size=0, max_size=300
).map(lambda items: [StreamRecord(b"x" * size, pk or "p", tag=i) for i, (size, pk) in enumerate(items)])


@settings(max_examples=150)
@given(record_lists, st.integers(1, 50), st.integers(3100, 40_000))
def test_batching_preserves_count_order_and_content_under_every_limit(
    records: list[StreamRecord], max_records: int, max_bytes: int
) -> None:
    batches = list(iter_batches(records, max_records=max_records, max_bytes=max_bytes, max_record_bytes=3100))
    flat = [r for batch in batches for r in batch]
    assert flat == records  # same objects, same order, nothing lost or added
    for batch in batches:
        assert 1 <= len(batch) <= max_records
        assert sum(r.size for r in batch) <= max_bytes


def test_batching_cuts_at_500_records_and_at_5_mib() -> None:
    small = [StreamRecord(b"x", "p") for _ in range(1201)]
    assert [len(b) for b in iter_batches(small)] == [500, 500, 201]
    big = [StreamRecord(b"x" * (MAX_RECORD_BYTES - 1), "p") for _ in range(11)]
    sizes = [len(b) for b in iter_batches(big)]
    assert sizes == [5, 5, 1]


def test_a_record_over_1_mib_counting_the_partition_key_is_rejected_clearly() -> None:
    exact = StreamRecord(b"x" * (MAX_RECORD_BYTES - 2), "pk")
    assert list(iter_batches([exact])) == [[exact]]
    over = StreamRecord(b"x" * (MAX_RECORD_BYTES - 1), "pk")
    with pytest.raises(RecordTooLargeError, match="1048576-byte PutRecords limit") as info:
        list(iter_batches([over]))
    assert info.value.details["size"] == MAX_RECORD_BYTES + 1


def test_an_overlong_partition_key_is_rejected() -> None:
    with pytest.raises(StreamingError, match="partition key"):
        list(iter_batches([StreamRecord(b"x", "p" * 257)]))


# -- retries ---------------------------------------------------------------------------------------


class ScriptedKinesis:
    """Fails entries according to a random generator; records every request."""

    def __init__(self, fail_rate: float, rng: random.Random, errors: list[Exception] | None = None) -> None:
        self.fail_rate = fail_rate
        self.rng = rng
        self.requests: list[list[bytes]] = []
        self.accepted: list[bytes] = []
        self.errors = errors or []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert len(Records) <= MAX_RECORDS_PER_REQUEST
        self.requests.append([r["Data"] for r in Records])
        if self.errors:
            raise self.errors.pop(0)
        results = []
        for entry in Records:
            if self.rng.random() < self.fail_rate:
                code = self.rng.choice(["ProvisionedThroughputExceededException", "InternalFailure"])
                results.append({"ErrorCode": code, "ErrorMessage": "injected"})
            else:
                self.accepted.append(entry["Data"])
                results.append({"SequenceNumber": "1", "ShardId": "shardId-0"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def _records(n: int) -> list[StreamRecord]:
    return [StreamRecord(json.dumps({"i": i}).encode(), f"p{i % 7}") for i in range(n)]


@settings(max_examples=100)
@given(st.integers(0, 1200), st.floats(0, 0.6), st.integers(0, 2**32), st.integers(1, 12))
def test_partial_failures_are_retried_until_accepted_or_reported_never_lost(
    n: int, fail_rate: float, seed: int, attempts: int
) -> None:
    records = _records(n)
    kinesis = ScriptedKinesis(fail_rate, random.Random(seed))
    sleeps: list[float] = []
    helper = StreamingHelper(
        StreamingConfig("s", max_attempts=attempts, base_delay_seconds=0.1, max_delay_seconds=2),
        kinesis,
        sleep=sleeps.append,
        rng=random.Random(seed),
    )
    data = [r.data for r in records]
    failure: PutRecordsFailedError | None = None
    try:
        summary = helper.put_records(records)
    except PutRecordsFailedError as error:
        failure = error
    if failure is not None:
        # Everything not accepted is in the error, in order, and accepted + reported == all.
        reported = [r.data for r in failure.records]
        assert sorted(kinesis.accepted + reported) == sorted(data)
        assert not set(kinesis.accepted) & set(reported)
        assert reported == [d for d in data if d in set(reported)]
        assert failure.accepted == len(kinesis.accepted)
    else:
        assert sorted(kinesis.accepted) == sorted(data)
        assert summary.records == n
        assert summary.requests == len(kinesis.requests)
    # Every request carries records in their original relative order (retries keep order too).
    position = {d: i for i, d in enumerate(data)}
    for request in kinesis.requests:
        assert [position[d] for d in request] == sorted(position[d] for d in request)
    assert all(0 <= s <= 2 for s in sleeps)


def test_only_failed_entries_are_sent_again() -> None:
    class FailFirstTwo(ScriptedKinesis):
        def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            self.requests.append([r["Data"] for r in Records])
            first = len(self.requests) == 1
            results = []
            for index, entry in enumerate(Records):
                if first and index in (1, 3):
                    results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "x"})
                else:
                    self.accepted.append(entry["Data"])
                    results.append({"SequenceNumber": "1", "ShardId": "s"})
            return {"FailedRecordCount": 2 if first else 0, "Records": results}

    kinesis = FailFirstTwo(0, random.Random(0))
    records = _records(5)
    summary = StreamingHelper(StreamingConfig("s"), kinesis, sleep=lambda s: None).put_records(records)
    assert kinesis.requests[1] == [records[1].data, records[3].data]
    assert summary.requests == 2 and summary.retried_entries == 2


def test_backoff_is_full_jitter_capped_exponential() -> None:
    helper = StreamingHelper(
        StreamingConfig("s", base_delay_seconds=0.1, max_delay_seconds=1.0), object(), rng=random.Random(1)
    )
    for attempt in range(8):
        ceiling = min(1.0, 0.1 * 2**attempt)
        samples = [helper.backoff(attempt) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range, not a fixed delay


def test_retry_limit_raises_with_the_still_failed_and_the_unsent_records() -> None:
    kinesis = ScriptedKinesis(1.0, random.Random(0))
    records = _records(700)
    helper = StreamingHelper(StreamingConfig("s", max_attempts=3), kinesis, sleep=lambda s: None)
    with pytest.raises(PutRecordsFailedError, match="after 3 attempts") as info:
        helper.put_records(records)
    assert info.value.records == records  # the first batch that kept failing plus the 200 never sent
    assert info.value.accepted == 0
    assert len(kinesis.requests) == 3


def test_a_retryable_whole_request_error_is_retried_and_a_fatal_one_is_not() -> None:
    from botocore.exceptions import ClientError

    def error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": code}}, "PutRecords")

    kinesis = ScriptedKinesis(0, random.Random(0), errors=[error("KMSThrottlingException")])
    helper = StreamingHelper(StreamingConfig("s"), kinesis, sleep=lambda s: None)
    assert helper.put_records(_records(3)).requests == 2
    fatal = ScriptedKinesis(0, random.Random(0), errors=[error("ResourceNotFoundException")])
    helper = StreamingHelper(StreamingConfig("s"), fatal, sleep=lambda s: None)
    with pytest.raises(PutRecordsFailedError, match="ResourceNotFoundException") as info:
        helper.put_records(_records(3))
    assert len(info.value.records) == 3 and len(fatal.requests) == 1


# -- against moto, with partial failures injected through botocore event hooks ---------------------


def inject_partial_failures(client: Any, rng: random.Random, rate: float) -> dict[str, int]:
    """Make a real (moto) client fail a random subset of PutRecords entries, as Kinesis does.

    ``provide-client-params`` removes the chosen entries before the request is sent; ``after-call``
    puts failure results back at their positions; ``before-call`` answers a request whose every
    entry failed without sending it. moto itself never reports partial failures.
    """
    plan: dict[str, Any] = {}
    counts = {"injected": 0}

    def choose(params: dict[str, Any], **_: Any) -> None:
        entries = params["Records"]
        failing = [i for i in range(len(entries)) if rng.random() < rate]
        plan["total"], plan["failing"] = len(entries), failing
        counts["injected"] += len(failing)
        keep = [e for i, e in enumerate(entries) if i not in set(failing)]
        params["Records"] = keep or entries[:1]

    def short_circuit(**_: Any) -> Any:
        if len(plan["failing"]) == plan["total"]:
            failed = [{"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "x"}]
            http = AWSResponse("https://kinesis.us-east-1.amazonaws.com/", 200, {}, None)
            return (http, {"FailedRecordCount": plan["total"], "Records": failed * plan["total"]})
        return None

    def splice(parsed: dict[str, Any], **_: Any) -> None:
        if len(plan["failing"]) == plan["total"] or "Records" not in parsed:
            return
        results = iter(parsed["Records"])
        merged = []
        for index in range(plan["total"]):
            if index in set(plan["failing"]):
                merged.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
            else:
                merged.append(next(results))
        parsed["Records"] = merged
        parsed["FailedRecordCount"] = len(plan["failing"])

    client.meta.events.register("provide-client-params.kinesis.PutRecords", choose)
    client.meta.events.register("before-call.kinesis.PutRecords", short_circuit)
    client.meta.events.register("after-call.kinesis.PutRecords", splice)
    return counts


def _read_stream(client: Any, name: str) -> list[bytes]:
    out: list[bytes] = []
    shards = client.list_shards(StreamName=name)["Shards"]
    for shard in shards:
        iterator = client.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = client.get_records(ShardIterator=iterator, Limit=10_000)
            out.extend(r["Data"] for r in response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_moto_stream_gets_every_record_exactly_once_despite_partial_failures(aws: None, seed: int) -> None:
    client = boto3.client("kinesis", region_name="us-east-1")
    client.create_stream(StreamName="changes", ShardCount=2)
    counts = inject_partial_failures(client, random.Random(seed), 0.3)
    records = [
        StreamRecord(json.dumps({"i": i}).encode(), partition_key(f"d{i % 5}/{i}.jpg")) for i in range(1100)
    ]
    helper = StreamingHelper(StreamingConfig("changes", max_attempts=30), client, sleep=lambda s: None)
    summary = helper.put_records(records)
    assert counts["injected"] > 100  # the hooks really failed entries
    stored = _read_stream(client, "changes")
    assert sorted(stored) == sorted(r.data for r in records)
    assert summary.requests > 3  # ceil(1100/500) plus the retries
