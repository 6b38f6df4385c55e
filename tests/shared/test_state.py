"""Tests for the fingerprint-conditioned state transitions and the dead-letter table."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from shared.change_events import Fingerprint
from shared.state import (
    BUSY,
    CLAIMED,
    COMPLETED,
    DELETED,
    DUPLICATE,
    FAILED,
    MAX_ITEM_BYTES,
    PROCESSING,
    STALE,
    DeadLetterOverflow,
    DeadLetterStore,
    StateStore,
    StateStoreError,
    dead_letter_table_definition,
    item_bytes,
    record_id_for,
    state_table_definition,
)
from tests.streaming_fakes import FakeDynamoDB

V1 = Fingerprint("e1", 10, "2026-01-01T00:00:00+00:00")
V2 = Fingerprint("e2", 12, "2026-01-01T00:05:00+00:00")
T1, T2, T3 = "2026-01-01T00:01:00.000000Z", "2026-01-01T00:06:00.000000Z", "2026-01-01T00:09:00.000000Z"


def _tables(client: Any) -> None:
    client.create_table(**state_table_definition("state"))
    client.create_table(**dead_letter_table_definition("dlq"))


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["moto", "fake"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Every transition test runs on moto (the real expression semantics) and on the fast fake."""
    if request.param == "fake":
        yield FakeDynamoDB()
        return
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        _tables(dynamodb)
        yield dynamodb


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(client: Any, clock: Clock) -> StateStore:
    return StateStore("state", client, clock=clock)


def _claim(store: StateStore, fp: Fingerprint, t: str, token: str = "a", key: str = "k") -> Any:
    return store.claim(key, fp, detected_at=t, token=token, timeout_seconds=900)


def test_pending_to_processing_to_completed(store: StateStore) -> None:
    claim = _claim(store, V1, T1)
    assert claim.outcome == CLAIMED
    state = store.get("k")
    assert state is not None and state.status == PROCESSING and state.fingerprint == V1
    assert store.complete(claim, output_key="out/k.json")
    state = store.get("k")
    assert state is not None and state.status == COMPLETED and state.output_key == "out/k.json"
    assert state.claim_token is None
    assert store.is_completed("k", V1) and not store.is_completed("k", V2)


def test_a_duplicate_of_a_completed_version_is_not_processed_again(store: StateStore) -> None:
    assert store.complete(_claim(store, V1, T1))
    again = _claim(store, V1, T2, token="b")  # re-emitted after a producer crash: newer stamp, same version
    assert again.outcome == DUPLICATE
    assert _claim(store, V1, T1).outcome == DUPLICATE  # the very same event delivered twice


def test_a_stale_event_never_overwrites_a_newer_version(store: StateStore) -> None:
    assert store.complete(_claim(store, V2, T2))
    late = _claim(store, V1, T1, token="old")
    assert late.outcome == STALE
    state = store.get("k")
    assert state is not None and state.fingerprint == V2 and state.status == COMPLETED


def test_a_newer_version_takes_over_and_the_old_claim_cannot_finish(store: StateStore) -> None:
    old = _claim(store, V1, T1)
    new = _claim(store, V2, T2, token="b")
    assert new.outcome == CLAIMED
    assert not store.complete(old)
    assert not store.fail(old, "too late")
    assert store.complete(new)
    assert store.is_completed("k", V2)


def test_the_same_event_delivered_again_re_enters_its_own_claim(store: StateStore) -> None:
    first = _claim(store, V1, T1, token="event-1")
    assert _claim(store, V1, T1, token="someone-else").outcome == BUSY
    again = _claim(store, V1, T1, token="event-1")
    assert again.outcome == CLAIMED
    assert store.complete(again)
    assert not store.complete(first)  # same claim: it finishes once, never twice


def test_an_expired_claim_can_be_taken_over(store: StateStore, clock: Clock) -> None:
    stuck = _claim(store, V1, T1, token="timed-out")
    assert _claim(store, V1, T2, token="next").outcome == BUSY
    clock.now += 901
    takeover = _claim(store, V1, T2, token="next")
    assert takeover.outcome == CLAIMED
    assert not store.complete(stuck)
    assert store.complete(takeover)


def test_a_failed_version_is_failed_not_completed_and_can_be_retried(store: StateStore) -> None:
    claim = _claim(store, V1, T1)
    assert store.fail(claim, "not an image")
    state = store.get("k")
    assert state is not None and state.status == FAILED and state.reason == "not an image"
    assert not store.is_completed("k", V1)
    retry = _claim(store, V1, T2, token="reconcile")
    assert retry.outcome == CLAIMED
    assert store.get("k").reason is None  # type: ignore[union-attr]


def test_delete_is_idempotent_and_ordered(store: StateStore) -> None:
    assert store.complete(_claim(store, V1, T1))
    assert store.mark_deleted("k", V1, detected_at=T2)
    assert not store.mark_deleted("k", V1, detected_at=T2)  # duplicate
    assert _claim(store, V1, T1).outcome == STALE  # a late create cannot resurrect it
    state = store.get("k")
    assert state is not None and state.status == DELETED
    recreated = _claim(store, V1, T3, token="c")  # the same bytes written again, later
    assert recreated.outcome == CLAIMED


def test_delete_older_than_the_state_is_ignored(store: StateStore) -> None:
    assert store.complete(_claim(store, V2, T2))
    assert not store.mark_deleted("k", V1, detected_at=T1)
    assert store.is_completed("k", V2)


def test_delete_of_an_unknown_key_leaves_a_tombstone(store: StateStore) -> None:
    assert store.mark_deleted("gone", V1, detected_at=T2)
    assert _claim(store, V1, T1, key="gone").outcome == STALE


def test_mark_gone_heals_a_missed_deletion_once_and_never_overrides_a_newer_event(store: StateStore) -> None:
    assert not store.mark_gone("k", detected_at=T2)  # no state: nothing to heal
    claim = _claim(store, V1, T1)
    assert store.complete(claim)
    assert store.mark_gone("k", detected_at=T2)
    state = store.get("k")
    assert (state.status, state.fingerprint, state.detected_at) == (DELETED, V1, T2)
    assert not store.mark_gone("k", detected_at=T3)  # already deleted
    assert _claim(store, V2, T3).outcome == CLAIMED  # a re-creation detected later still wins
    assert not store.mark_gone("k", detected_at=T2)  # a listing older than that event changes nothing
    assert store.get("k").status == PROCESSING


def test_applied_says_whether_the_state_already_reflects_an_event(store: StateStore) -> None:
    assert not store.applied("k", "created", V1, T1)
    assert store.complete(_claim(store, V1, T1))
    assert store.applied("k", "created", V1, T1) and store.applied("k", "modified", V1, T2)
    assert not store.applied("k", "modified", V2, T2)
    assert not store.applied("k", "deleted", V1, T2)
    assert store.mark_deleted("k", V1, detected_at=T2)
    assert store.applied("k", "deleted", V1, T2) and store.applied("k", "created", V2, T1)


def test_completed_keys_batches_and_matches_the_fingerprint(store: StateStore) -> None:
    for i in range(105):
        claim = _claim(store, V1, T1, key=f"f{i:03d}")
        if i % 3 and i % 2:
            store.complete(claim)
    asked = [(f"f{i:03d}", V1 if i % 2 else V2) for i in range(110)]  # more than one BatchGetItem
    done = store.completed_keys(asked)
    assert done == {f"f{i:03d}" for i in range(105) if i % 3 and i % 2}


def test_a_claim_that_was_refused_cannot_be_finished(store: StateStore) -> None:
    store.complete(_claim(store, V1, T1))
    refused = _claim(store, V1, T2, token="b")
    with pytest.raises(ValueError, match="cannot finish"):
        store.complete(refused)


def test_a_throttled_write_raises_a_typed_error() -> None:
    store = StateStore("state", FakeDynamoDB(throttle=lambda op: True))
    with pytest.raises(StateStoreError, match="ProvisionedThroughputExceededException"):
        _claim(store, V1, T1)


# -- dead letters ----------------------------------------------------------------------------------


def test_dead_letter_keeps_raw_record_error_stack_attempts_and_times(client: Any, clock: Clock) -> None:
    dlq = DeadLetterStore("dlq", client, ttl_days=14, clock=clock)
    raw = {"kinesis": {"data": "bm90IGpzb24=", "partitionKey": "p#1", "sequenceNumber": "42"}}
    first = dlq.record(partition_key="p#1", data="bm90IGpzb24=", raw=raw, kind="malformed",
                       error="not valid JSON", stack_trace="Traceback ...")  # fmt: skip
    clock.now += 60
    second = dlq.record(partition_key="p#1", data="bm90IGpzb24=", raw=raw, kind="malformed",
                        error="not valid JSON", stack_trace="Traceback ...", key="a/b.jpg")  # fmt: skip
    assert first == second == record_id_for("p#1", "bm90IGpzb24=")
    (letter,) = list(dlq.entries())
    assert letter.attempts == 2
    assert letter.raw == raw and letter.data == "bm90IGpzb24=" and letter.partition_key == "p#1"
    assert letter.error == "not valid JSON" and letter.stack_trace == "Traceback ..."
    assert letter.first_failure_at < letter.last_failure_at
    assert letter.key == "a/b.jpg"


def test_dead_letter_expires_after_the_ttl(client: Any, clock: Clock) -> None:
    dlq = DeadLetterStore("dlq", client, ttl_days=2, clock=clock)
    record_id = dlq.record(partition_key="p", data="eA==", raw={}, kind="failed", error="e", stack_trace="")
    item = client.get_item(TableName="dlq", Key={"record_id": {"S": record_id}})["Item"]
    assert int(item["expires_at"]["N"]) == int(clock.now + 2 * 86400)


def test_remove_keeps_a_dead_letter_that_failed_again_meanwhile(client: Any, clock: Clock) -> None:
    dlq = DeadLetterStore("dlq", client, clock=clock)
    dlq.record(partition_key="p", data="eA==", raw={}, kind="failed", error="e", stack_trace="")
    (seen,) = list(dlq.entries())
    clock.now += 5
    dlq.record(partition_key="p", data="eA==", raw={}, kind="failed", error="e", stack_trace="")
    assert not dlq.remove(seen)
    (fresh,) = list(dlq.entries())
    assert dlq.remove(fresh)
    assert list(dlq.entries()) == []


@pytest.mark.parametrize("size", [151 * 1024, 390 * 1024, 1_300_000])
def test_a_dead_letter_of_any_size_fits_and_reads_back_whole(client: Any, clock: Clock, size: int) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="output")
        dlq = DeadLetterStore("dlq", client, clock=clock, overflow=DeadLetterOverflow("output", s3))
        data = "A" * size  # base64 of a large Kinesis record (up to 1 MiB decoded)
        raw = {"kinesis": {"data": data, "partitionKey": "p", "sequenceNumber": "7"}, "eventID": "s:7"}
        dlq.record(partition_key="p", data=data, raw=raw, kind="transient", error="x" * 100_000,
                   stack_trace="frame\n" * 50_000)  # fmt: skip
        (letter,) = list(dlq.entries())
        assert letter.data == data and letter.raw == raw  # followed the pointer when there is one
        assert len(letter.error.encode()) <= 32 * 1024 and letter.stack_trace.endswith("frame\n")
        item = client.get_item(TableName="dlq", Key={"record_id": {"S": letter.record_id}})["Item"]
        assert item_bytes(item) <= MAX_ITEM_BYTES
        stored = [o["Key"] for o in s3.list_objects_v2(Bucket="output").get("Contents", [])]
        if size < 200 * 1024:  # inline: the payload is stored once, not again inside raw
            assert "raw_location" not in item and item["raw"]["S"].count("A" * 1000) == 0
            assert stored == []
        else:
            assert "data" not in item and "raw" not in item
            assert stored == [f"dead-letters/{letter.record_id}.json"]
        assert dlq.remove(letter)
        assert list(dlq.entries()) == [] and not s3.list_objects_v2(Bucket="output").get("Contents")


def test_an_oversize_dead_letter_without_an_overflow_bucket_is_a_typed_error(client: Any) -> None:
    dlq = DeadLetterStore("dlq", client)
    with pytest.raises(StateStoreError, match="item limit"):
        dlq.record(partition_key="p", data="A" * 500_000, raw={}, kind="failed", error="e", stack_trace="")


# -- the fake agrees with moto ---------------------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["claim", "complete", "fail", "delete", "tick"]),
        st.sampled_from(["a", "b"]),  # key
        st.sampled_from([V1, V2]),
        st.sampled_from([T1, T2, T3]),
        st.sampled_from(["x", "y"]),  # token
    ),
    min_size=1,
    max_size=8,
)

_run = itertools.count()


def _apply(store: StateStore, clock: Clock, ops: list[Any], prefix: str) -> list[Any]:
    claims: dict[str, Any] = {}
    seen: list[Any] = []
    for op, key, fp, t, token in ops:
        key = prefix + key
        if op == "claim":
            claim = store.claim(key, fp, detected_at=t, token=token, timeout_seconds=100)
            claims[key] = claim
            seen.append(claim.outcome)
        elif op in ("complete", "fail") and key in claims and claims[key].claimed:
            done = store.complete(claims[key]) if op == "complete" else store.fail(claims[key], "r")
            seen.append(done)
        elif op == "delete":
            seen.append(store.mark_deleted(key, fp, detected_at=t))
        elif op == "tick":
            clock.now += 60
    for key in sorted({prefix + k for _, k, *_ in ops}):
        state = store.get(key)
        seen.append(None if state is None else (state.status, state.fingerprint, state.detected_at,
                                                state.claim_token, state.attempts))  # fmt: skip
    return seen


def test_the_fake_evaluates_every_transition_exactly_like_moto() -> None:
    """Random operation sequences give identical outcomes and items on moto and on the fake."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        _tables(dynamodb)

        @settings(max_examples=30, deadline=None)
        @given(operations)
        def same_result(ops: list[Any]) -> None:
            prefix = f"run{next(_run)}-"
            fake_clock, moto_clock = Clock(), Clock()
            expected = _apply(StateStore("state", dynamodb, clock=moto_clock), moto_clock, ops, prefix)
            actual = _apply(StateStore("state", FakeDynamoDB(), clock=fake_clock), fake_clock, ops, prefix)
            assert actual == expected

        same_result()
