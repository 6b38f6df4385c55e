"""Tests for the stream consumer: records on their own merit, dead letters, idempotent state, the handler."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared.change_events import ChangeEvent, Fingerprint
from shared.state import (
    COMPLETED,
    DELETED,
    FAILED,
    DeadLetterOverflow,
    DeadLetterStore,
    StateStore,
    dead_letter_table_definition,
    state_table_definition,
)
from shared.streaming.consumer import Consumer
from tests.handlers import load_handler
from tests.streaming_fakes import FakeDynamoDB

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "retail-catalog/functions/stream_consumer/handler.py"
FP1 = Fingerprint("e1", 10, "2026-01-01T00:00:00+00:00")
FP2 = Fingerprint("e2", 20, "2026-01-01T00:10:00+00:00")
T1, T2 = "2026-01-01T00:01:00.000000Z", "2026-01-01T00:11:00.000000Z"


def event(
    key: str, kind: str = "created", fp: Fingerprint = FP1, t: str = T1, run: str = "r1"
) -> ChangeEvent:
    return ChangeEvent(key, kind, fp, t, run)


def _encoded(document: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def _event_text(key: str = "a/1.jpg") -> str:
    return event("placeholder.jpg").to_json().replace("placeholder.jpg", key)


def _b64(payload: str | bytes) -> str:
    raw = payload.encode("utf-8", errors="surrogatepass") if isinstance(payload, str) else payload
    return base64.b64encode(raw).decode()


class Batch:
    """Builds Kinesis Lambda records with increasing sequence numbers per shard."""

    def __init__(self) -> None:
        self.seq = 0

    def raw(self, data: str, shard: int = 0, partition_key: str = "p#0") -> dict[str, Any]:
        self.seq += 1
        sequence = f"{self.seq:056d}"
        return {
            "eventID": f"shardId-{shard:012d}:{sequence}",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/changes",
            "kinesis": {"partitionKey": partition_key, "sequenceNumber": sequence, "data": data},
        }

    def of(self, change: ChangeEvent, shard: int = 0) -> dict[str, Any]:
        return self.raw(base64.b64encode(change.to_json().encode()).decode(), shard)


class Processor:
    """A fake per-file processor that counts side effects and can fail on demand."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.raise_for: set[str] = set()
        self.fail_for: set[str] = set()

    def __call__(self, change: ChangeEvent) -> dict[str, Any]:
        if change.key in self.raise_for:
            raise TimeoutError(f"Rekognition timed out for {change.key}")
        self.calls.append((change.key, change.fingerprint.etag))
        if change.key in self.fail_for:
            return {"status": "FAILED", "key": change.key, "output_key": None, "reason": "not an image"}
        return {"status": "SUCCEEDED", "key": change.key, "output_key": f"results/{change.key}.json"}


@pytest.fixture
def rig() -> Any:
    class Rig:
        db = FakeDynamoDB()
        state = StateStore("state", db)
        dlq = DeadLetterStore("dlq", db)
        process = Processor()
        batch = Batch()
        consumer = Consumer(state, dlq, process, claim_timeout_seconds=900)

    return Rig()


def test_created_event_is_claimed_processed_and_completed_in_two_writes(rig: Any) -> None:
    report = rig.consumer.consume([rig.batch.of(event("a/1.jpg"))])
    assert report.response() == {"batchItemFailures": []}
    assert rig.process.calls == [("a/1.jpg", "e1")]
    state = rig.state.get("a/1.jpg")
    assert state.status == COMPLETED and state.output_key == "results/a/1.jpg.json"
    assert rig.db.calls["UpdateItem"] == 2


def test_duplicates_and_redelivery_process_a_version_once(rig: Any) -> None:
    first = rig.batch.of(event("a/1.jpg"))
    again = rig.batch.of(event("a/1.jpg", run="r2", t=T2))  # re-emitted after a producer crash
    rig.consumer.consume([first, again, first])
    assert rig.process.calls == [("a/1.jpg", "e1")]
    assert rig.consumer.consume([first]).outcomes == {"duplicate": 1}


def test_a_stale_event_delivered_late_does_not_overwrite_the_newer_version(rig: Any) -> None:
    rig.consumer.consume([rig.batch.of(event("a/1.jpg", "modified", FP2, T2))])
    report = rig.consumer.consume([rig.batch.of(event("a/1.jpg", "created", FP1, T1))])
    assert report.outcomes == {"stale": 1}
    assert rig.state.get("a/1.jpg").fingerprint == FP2
    assert rig.process.calls == [("a/1.jpg", "e2")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("!!!not base64!!!", "not valid base64"),
        (base64.b64encode(b"{not json").decode(), "not valid JSON"),
        (base64.b64encode(json.dumps({"version": 1, "key": "a.jpg"}).encode()).decode(), "missing field"),
        (
            base64.b64encode(
                json.dumps({**event("a.jpg").to_dict(), "event_type": "renamed"}).encode()
            ).decode(),
            "unknown event_type",
        ),
        (
            base64.b64encode(json.dumps({**event("a.jpg").to_dict(), "key": "../x.jpg"}).encode()).decode(),
            "unsafe key",
        ),
        (_b64(b"[" * 20_000 + b"]" * 20_000), "nested deeper"),
        (_b64(b'{"a":' * 30_000 + b"1" + b"}" * 30_000), "nested deeper"),
        (_b64(_event_text(key="a/\\ud800.jpg")), "lone surrogate"),
        (_b64(_event_text(key="a/caf\u00e9.jpg").encode("utf-8").replace(b"\xc3\xa9", b"\xe9")), "not UTF-8"),
        (_b64(_event_text().encode("utf-16")), "not UTF-8"),
        (_b64(b"\xef\xbb\xbf" + _event_text().encode()), "byte order mark"),
        (_b64(_event_text().replace('"size":10', '"size":' + "9" * 5000)), "overflows"),
        (_b64(_event_text().replace('"size":10', '"size":1e999')), "overflows"),
        (_b64(_event_text().replace('"size":10', '"size":NaN')), "not a JSON number"),
        (_b64(_event_text().replace('"size":10', '"size":Infinity')), "not a JSON number"),
    ],
)
def test_malformed_records_go_to_the_dlq_and_count_as_handled(rig: Any, data: str, reason: str) -> None:
    bad = rig.batch.raw(data, partition_key="poison")
    good = rig.batch.of(event("a/2.jpg"))
    report = rig.consumer.consume([bad, good])
    assert report.response() == {"batchItemFailures": []}
    assert rig.process.calls == [("a/2.jpg", "e1")]  # the record after the poison one still ran
    (letter,) = list(rig.dlq.entries())
    assert letter.kind == "malformed" and reason in letter.error
    assert letter.data == data and letter.partition_key == "poison" and letter.raw == bad
    assert "Traceback" in letter.stack_trace and letter.attempts == 1 and letter.first_failure_at


def test_a_failure_is_reported_alone_and_every_other_record_carries_on(rig: Any) -> None:
    a = [rig.batch.of(event(f"a/{i}.jpg"), shard=0) for i in range(4)]
    b = [rig.batch.of(event(f"b/{i}.jpg"), shard=1) for i in range(3)]
    rig.process.raise_for = {"a/1.jpg"}
    interleaved = [a[0], b[0], a[1], b[1], a[2], b[2], a[3]]
    report = rig.consumer.consume(interleaved)
    failed = [f["itemIdentifier"] for f in report.response()["batchItemFailures"]]
    assert failed == [a[1]["kinesis"]["sequenceNumber"]]
    assert {k for k, _ in rig.process.calls} == {
        "a/0.jpg",
        "a/2.jpg",
        "a/3.jpg",
        "b/0.jpg",
        "b/1.jpg",
        "b/2.jpg",
    }
    (letter,) = list(rig.dlq.entries())  # the failure is recorded, not only logged
    assert letter.kind == "transient" and "TimeoutError" in letter.error and letter.key == "a/1.jpg"
    # Lambda delivers again from a[1]: the held claim is re-entered by the same event, and the
    # records after it that already succeeded are refused as duplicates (one write each).
    rig.process.raise_for = set()
    writes = rig.db.calls["UpdateItem"]
    assert rig.consumer.consume(a[1:]).outcomes == {"completed": 1, "duplicate": 2}
    assert rig.db.calls["UpdateItem"] - writes == 2 + 2
    assert all(rig.state.get(f"a/{i}.jpg").status == COMPLETED for i in range(4))


def test_an_outage_dead_letters_every_record_it_fails(rig: Any) -> None:
    records = [rig.batch.of(event(f"a/{i}.jpg"), shard=0) for i in range(5)]
    rig.process.raise_for = {f"a/{i}.jpg" for i in range(5)}
    report = rig.consumer.consume(records)
    assert len(report.failures) == 5 and report.dead_lettered == 5
    assert sorted(letter.key for letter in rig.dlq.entries()) == [f"a/{i}.jpg" for i in range(5)]


def test_an_older_event_failing_does_not_hold_back_a_newer_one_of_the_same_file(rig: Any) -> None:
    old = rig.batch.of(event("a/1.jpg", "created", FP1, T1))
    new = rig.batch.of(event("a/1.jpg", "modified", FP2, T2))
    gone = rig.batch.of(event("a/2.jpg", "deleted", FP1, T2))
    rig.process.raise_for = {"a/1.jpg"}
    first = rig.consumer.consume([old, new, gone])
    assert first.outcomes == {"transient": 2, "deleted": 1}
    rig.process.raise_for = set()
    # Delivered again from the lowest failure: the newer version wins, the older one is stale.
    again = rig.consumer.consume([new, old, gone])
    assert again.outcomes == {"completed": 1, "stale": 1, "deleted-ignored": 1}
    assert rig.state.get("a/1.jpg").fingerprint == FP2 and rig.process.calls == [("a/1.jpg", "e2")]


def test_a_failed_result_marks_failed_and_dead_letters_but_never_completes(rig: Any) -> None:
    rig.process.fail_for = {"a/bad.jpg"}
    record = rig.batch.of(event("a/bad.jpg"))
    report = rig.consumer.consume([record])
    assert report.response() == {"batchItemFailures": []}
    state = rig.state.get("a/bad.jpg")
    assert state.status == FAILED and state.reason == "not an image"
    assert not rig.state.is_completed("a/bad.jpg", FP1)
    (letter,) = list(rig.dlq.entries())
    assert letter.kind == "failed" and letter.raw == record and letter.key == "a/bad.jpg"


def test_a_deleted_event_marks_state_deleted_once(rig: Any) -> None:
    rig.consumer.consume([rig.batch.of(event("a/1.jpg"))])
    gone = rig.batch.of(event("a/1.jpg", "deleted", FP1, T2))
    assert rig.consumer.consume([gone, gone]).outcomes == {"deleted": 1, "deleted-ignored": 1}
    assert rig.state.get("a/1.jpg").status == DELETED


def test_throttling_is_reported_for_retry(rig: Any) -> None:
    rig.db.throttle = lambda op: op == "UpdateItem"
    records = [rig.batch.of(event("a/1.jpg")), rig.batch.of(event("a/2.jpg"))]
    report = rig.consumer.consume(records)
    assert len(report.failures) == 2
    assert rig.process.calls == []


def test_a_record_without_a_sequence_number_is_dead_lettered(rig: Any) -> None:
    record = rig.batch.of(event("a/1.jpg"))
    del record["kinesis"]["sequenceNumber"]
    assert rig.consumer.consume([record]).response() == {"batchItemFailures": []}
    assert [letter.kind for letter in rig.dlq.entries()] == ["malformed"]


# -- the handler -----------------------------------------------------------------------------------


@pytest.fixture
def deployed(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(**state_table_definition("state"))
    dynamodb.create_table(**dead_letter_table_definition("dlq"))
    for name, value in {
        "ACCESS_POINT": "arn:aws:s3:us-east-1:123456789012:accesspoint/fsxn-ap",
        "STATE_TABLE": "state",
        "DLQ_TABLE": "dlq",
        "OUTPUT_BUCKET": "output",
        "BEDROCK_MODEL_ID": "amazon.nova-lite-v1:0",
        "CLAIM_TIMEOUT_SECONDS": "60",
    }.items():
        monkeypatch.setenv(name, value)
    module = load_handler(HANDLER)
    calls: list[dict[str, Any]] = []

    def process_image(source: Any, key: str, etag: str, **kwargs: Any) -> dict[str, Any]:
        calls.append({"target": source.target, "key": key, "etag": etag, **kwargs})
        if key.endswith("broken.jpg"):
            return {"status": "FAILED", "key": key, "output_key": None, "reason": "truncated JPEG"}
        return {"status": "SUCCEEDED", "key": key, "output_key": f"out/{key}.json"}

    monkeypatch.setattr(module, "process_image", process_image)
    return module, calls, dynamodb


def _emitted(capsys: pytest.CaptureFixture[str], metric: str) -> list[float]:
    """Values of ``metric`` in the EMF documents the handler printed."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [doc[metric] for doc in lines if "_aws" in doc and metric in doc]


def test_handler_processes_a_kinesis_event_and_returns_batch_item_failures(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    module, calls, dynamodb = deployed
    batch = Batch()
    records = [batch.of(event("shoes/1.jpg")), batch.raw("@@@"), batch.of(event("shoes/broken.jpg"))]
    result = module.handler({"Records": records}, None)
    assert result == {"batchItemFailures": []}
    assert [c["key"] for c in calls] == ["shoes/1.jpg", "shoes/broken.jpg"]
    assert calls[0]["model_id"] == "amazon.nova-lite-v1:0" and calls[0]["confidence_threshold"] == 70.0
    assert calls[0]["output_bucket"] == "output" and calls[0]["etag"] == "e1"
    state = StateStore("state", dynamodb)
    assert state.is_completed("shoes/1.jpg", FP1)
    assert state.get("shoes/broken.jpg").status == FAILED
    kinds = sorted(letter.kind for letter in DeadLetterStore("dlq", dynamodb).entries())
    assert kinds == ["failed", "malformed"]
    assert _emitted(capsys, "RecordsDeadLettered") == [2]


def test_handler_reports_the_sequence_number_of_every_failed_record(
    deployed: Any, monkeypatch: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    module, _, _ = deployed

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ConnectionError("bedrock unreachable")

    monkeypatch.setattr(module, "process_image", broken)
    batch = Batch()
    records = [batch.of(event("a/1.jpg")), batch.of(event("a/2.jpg"))]
    result = module.handler({"Records": records}, None)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in records]
    }
    # Each record is tried on its own merit and dead-lettered as transient.
    assert _emitted(capsys, "RecordsDeadLettered") == [2]


def test_handler_dead_letters_a_payload_too_large_for_an_item_through_the_output_bucket(
    deployed: Any,
) -> None:
    module, _, dynamodb = deployed
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="output")
    poison = Batch().raw(_b64(b"{" + b'"pad":"' + b"x" * 600_000 + b'"'), partition_key="big")
    assert module.handler({"Records": [poison]}, None) == {"batchItemFailures": []}
    (letter,) = list(DeadLetterStore("dlq", dynamodb, overflow=DeadLetterOverflow("output", s3)).entries())
    assert (
        letter.kind == "malformed"
        and letter.raw_location == f"s3://output/dead-letters/{letter.record_id}.json"
    )
    assert letter.data == poison["kinesis"]["data"] and letter.raw == poison


def test_handler_refuses_an_event_that_is_not_from_kinesis(deployed: Any) -> None:
    module, _, _ = deployed
    with pytest.raises(ValueError, match="Records"):
        module.handler({"detail": {}}, None)


def test_sample_event_is_a_valid_kinesis_batch(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    module, calls, _ = deployed
    sample = json.loads((ROOT / "retail-catalog/events/stream_consumer.json").read_text())
    assert module.handler(sample, None) == {"batchItemFailures": []}
    assert calls
    assert _emitted(capsys, "RecordsDeadLettered") == [0]  # emitted on every batch, zero included


# -- replaying dead letters ------------------------------------------------------------------------


def test_replay_re_puts_dead_letters_and_removes_them_once_accepted(deployed: Any) -> None:
    from scripts.replay_dlq import main

    _, _, dynamodb = deployed
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="changes", ShardCount=1)
    state = StateStore("state", dynamodb)
    dlq = DeadLetterStore("dlq", dynamodb)
    batch = Batch()
    failed = batch.of(event("a/broken.jpg"))
    healed = batch.of(event("a/ok.jpg"))
    garbage = batch.raw("@@@ not base64", partition_key="x")
    for record, kind in ((failed, "failed"), (healed, "transient"), (garbage, "malformed")):
        kinesis_part = record["kinesis"]
        dlq.record(partition_key=kinesis_part["partitionKey"], data=kinesis_part["data"], raw=record,
                   kind=kind, error="e", stack_trace="")  # fmt: skip
    done = state.claim("a/ok.jpg", FP1, detected_at=T1, token="poll:1", timeout_seconds=60)
    assert state.complete(done)

    assert main(["--table", "dlq", "--stream", "changes", "--state-table", "state", "--dry-run"]) == 1
    assert len(list(dlq.entries())) == 3  # a dry run changes nothing
    assert main(["--table", "dlq", "--stream", "changes", "--state-table", "state"]) == 1  # one kept

    (left,) = list(dlq.entries())
    assert left.kind == "malformed"
    shard = kinesis.list_shards(StreamName="changes")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="changes", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [ChangeEvent.from_json(r["Data"]).key for r in records] == ["a/broken.jpg"]
    assert records[0]["PartitionKey"] == failed["kinesis"]["partitionKey"]
