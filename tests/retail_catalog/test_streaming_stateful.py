"""Stateful tests of the whole streaming path under injected faults: nothing is lost, nothing done twice.

Two tests of one promise. The first runs the deployed stack on the embedded cloud, seeded, through
the event source mapping's own retry and discard rules and ``make replay-dlq``'s code. The second
is a Hypothesis state machine on in-memory fakes that searches many more interleavings.

The embedded-cloud scenario (``scripts.bench.stream_faults``, which ``make bench`` also measures):
30% of PutRecords entries fail, 15% of the state and dead-letter writes are throttled, producer
runs crash between the put and the manifest write, the AI service is down longer than the
mapping's retries (so batches are discarded to the OnFailure queue), old records come again out of
order, and files are created, modified and deleted. After the faults stop and the replay has run,
every final file version is completed exactly once, or failed with its dead letter, and every
deleted file is marked deleted: 0 lost.

Hypothesis drives random file creates, modifies and deletes, producer runs and consumer batches,
and injects the faults production sees: 30% Kinesis partial failures, DynamoDB throttling, a
listing that breaks mid-shard, a crash between the put and the manifest write, a consumer crash
mid-batch (before or after the side effect), duplicate delivery (the checkpoint moves back) and
out-of-order delivery (an old record delivered again; if that fails it goes back on the stream,
as ``scripts/replay_dlq.py`` would put it). Lambda's batch semantics are simulated: a crashed
invocation is delivered again whole, ``batchItemFailures`` move the checkpoint to the first failure.

At the end, with the faults off, the producer runs and the consumer drains the stream. Then every
file's final version is completed, with exactly one completion per version and the output of the
final version in place, or, for a file processing rejects, it is failed and its raw record is in
the dead-letter table. Every malformed record is in the dead-letter table. Deleted files are
marked deleted. In-memory fakes keep 200 examples fast; ``tests/shared/test_state.py`` proves the
DynamoDB fake evaluates the state conditions exactly as moto does.
"""

from __future__ import annotations

import base64
import os
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from scripts.bench.stream_faults import Faults, fault_cloud, run_scenario
from shared.change_events import ChangeEvent, Fingerprint
from shared.s3ap import ObjectInfo
from shared.state import COMPLETED, DELETED, FAILED, Claim, DeadLetterStore, StateStore
from shared.streaming.changes import ManifestStore, run_cycle
from shared.streaming.consumer import Consumer
from shared.streaming.kinesis import StreamingConfig, StreamingHelper
from tests.streaming_fakes import DictLister, FakeDynamoDB, FakeKinesis, FakeManifestS3


@pytest.fixture(scope="module")
def cloud_with_faults() -> Any:
    with fault_cloud() as pair:
        yield pair


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nothing_is_lost_or_done_twice_under_sustained_faults_on_the_embedded_cloud(
    cloud_with_faults: Any, seed: int
) -> None:
    cloud, hooks = cloud_with_faults
    outcome = run_scenario(cloud, hooks, seed, Faults.sustained(), files=8, cycles=4)
    assert outcome.discarded_batches > 0, "the faults must exhaust the mapping's retries at least once"
    assert outcome.replayed + outcome.already_done > 0
    assert outcome.lost == [] and outcome.deletions_missed == [], outcome
    assert outcome.completed_twice == [], outcome
    assert outcome.completed + outcome.failed_with_dead_letter == outcome.final_versions
    assert outcome.failed_with_dead_letter == 1 and outcome.deletions == 4


BASE = datetime(2026, 1, 1, tzinfo=UTC)
KEYS = ("a/1.jpg", "a/2.jpg", "a/sub/3.jpg", "b/1.jpg", "b/bad.jpg", "top.jpg")
QUIET_POLLS = 1
GARBAGE = (
    "!!!not-base64!!!",
    base64.b64encode(b"{oops").decode(),
    base64.b64encode(b'{"version":1}').decode(),
)


class Crash(BaseException):
    """A process dying mid-work (timeout, out of memory): nothing after it runs, nothing is caught."""


class CountingStateStore(StateStore):
    """Counts completions per (key, etag): the observable "done" side effect."""

    def __init__(self, *args: Any, machine: StreamingMachine, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.machine = machine
        self.completions: Counter[tuple[str, str]] = Counter()

    def complete(self, claim: Claim, *, output_key: str | None = None) -> bool:
        if self.machine.crash_before_complete:
            self.machine.crash_before_complete = False
            raise Crash("after the side effect, before the state write")
        done = super().complete(claim, output_key=output_key)
        if done:
            self.completions[(claim.key, claim.fingerprint.etag)] += 1
        return done


class StreamingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(0)
        self.faults = True
        self.now = 0
        self.version = 0
        self.lister = DictLister(page_size=2)
        self.s3 = FakeManifestS3()
        self.manifests = ManifestStore("output", "manifests/", self.s3)
        self.kinesis = FakeKinesis(shards=2, fail=lambda: self.faults and self.rng.random() < 0.3)
        self.helper = StreamingHelper(
            StreamingConfig("changes", partition_strategy="prefix-hash", partition_buckets=4, max_attempts=2),
            self.kinesis,
            sleep=lambda s: None,
            rng=random.Random(1),
        )
        self.db = FakeDynamoDB(throttle=lambda op: self.faults and self.rng.random() < 0.15)
        self.crash_before_complete = False
        self.crash_in_process_after = -1
        self.state = CountingStateStore("state", self.db, clock=lambda: float(self.now), machine=self)
        self.dlq = DeadLetterStore("dlq", self.db, clock=lambda: float(self.now))
        self.consumer = Consumer(self.state, self.dlq, self.process, claim_timeout_seconds=900)
        self.checkpoint = [0, 0]
        self.outputs: dict[str, str] = {}
        self.ever_written: set[str] = set()
        self.garbage: list[str] = []

    # -- the per-file work -------------------------------------------------------------------------

    def process(self, change: ChangeEvent) -> dict[str, Any]:
        if self.crash_in_process_after == 0:
            self.crash_in_process_after = -1
            raise Crash("consumer died mid-batch")
        self.crash_in_process_after -= 1
        if self.faults and self.rng.random() < 0.1:
            raise TimeoutError("Rekognition timed out")
        if "bad" in change.key:
            return {"status": "FAILED", "key": change.key, "output_key": None, "reason": "not an image"}
        self.outputs[change.key] = change.fingerprint.etag  # idempotent: the output key derives from the key
        return {"status": "SUCCEEDED", "key": change.key, "output_key": f"results/{change.key}.json"}

    # -- files -------------------------------------------------------------------------------------

    @rule(key=st.sampled_from(KEYS))
    def write_file(self, key: str) -> None:
        self.version += 1
        self.lister.objects[key] = ObjectInfo(
            key, 100 + self.version, f"v{self.version}", BASE + timedelta(seconds=self.version)
        )
        self.ever_written.add(key)

    @rule(key=st.sampled_from(KEYS))
    def delete_file(self, key: str) -> None:
        self.lister.objects.pop(key, None)

    # -- producer ----------------------------------------------------------------------------------

    @rule(seed=st.integers(0, 2**16), broken=st.sampled_from(["", "a/", "b/", None]), crash=st.booleans())
    def produce(self, seed: int, broken: str | None, crash: bool) -> None:
        self.rng.seed(seed)
        self.lister.broken = {broken} if broken is not None else set()

        def maybe_crash(key: str) -> None:
            if crash and self.rng.random() < 0.5:
                raise Crash(f"producer died before writing {key}")

        self.s3.fail_put = maybe_crash
        self.now += 60
        try:
            run_cycle(self.lister, self.manifests, self.helper, quiet_polls=QUIET_POLLS,
                      now=BASE + timedelta(seconds=self.now), max_workers=2)  # fmt: skip
        except Crash:
            pass
        finally:
            self.lister.broken = set()
            self.s3.fail_put = None

    @rule(which=st.sampled_from(GARBAGE), shard_key=st.sampled_from(["x", "y", "z"]))
    def put_garbage(self, which: str, shard_key: str) -> None:
        self.kinesis.append(b"", shard_key, encoded=which)
        self.garbage.append(which)

    # -- consumer ----------------------------------------------------------------------------------

    def _deliver(self, shard: int, size: int) -> None:
        records = self.kinesis.shards[shard][self.checkpoint[shard] : self.checkpoint[shard] + size]
        if not records:
            return
        try:
            report = self.consumer.consume(records)
        except Crash:
            return  # Lambda delivers the same batch again later
        failed = {f["itemIdentifier"] for f in report.response()["batchItemFailures"]}
        sequences = [r["kinesis"]["sequenceNumber"] for r in records]
        # Lambda's rule: checkpoint before the lowest reported record and deliver again from it.
        first = next((i for i, s in enumerate(sequences) if s in failed), len(records))
        self.checkpoint[shard] += first

    @rule(
        shard=st.integers(0, 1),
        size=st.integers(1, 6),
        seed=st.integers(0, 2**16),
        crash=st.sampled_from(["none", "none", "process", "complete"]),
        at=st.integers(0, 3),
    )
    def consume(self, shard: int, size: int, seed: int, crash: str, at: int) -> None:
        self.rng.seed(seed)
        self.now += 5
        self.crash_in_process_after = at if crash == "process" else -1
        self.crash_before_complete = crash == "complete"
        self._deliver(shard, size)
        self.crash_in_process_after = -1
        self.crash_before_complete = False

    @rule(shard=st.integers(0, 1), back=st.integers(1, 4))
    def redeliver(self, shard: int, back: int) -> None:
        self.checkpoint[shard] = max(0, self.checkpoint[shard] - back)

    @precondition(lambda self: any(self.checkpoint))
    @rule(pick=st.integers(0, 10_000), seed=st.integers(0, 2**16))
    def deliver_old_record(self, pick: int, seed: int) -> None:
        self.rng.seed(seed)
        done = [r for s in (0, 1) for r in self.kinesis.shards[s][: self.checkpoint[s]]]
        record = done[pick % len(done)]
        try:
            report = self.consumer.consume([record])
            failed = bool(report.failures)
        except Crash:
            failed = True
        if failed:  # as a replay would: put it back on the stream
            kinesis = record["kinesis"]
            self.kinesis.append(b"", kinesis["partitionKey"], encoded=kinesis["data"])

    @rule()
    def claims_expire(self) -> None:
        self.now += 1000

    # -- properties --------------------------------------------------------------------------------

    @invariant()
    def no_version_is_completed_twice(self) -> None:
        assert all(count == 1 for count in self.state.completions.values()), self.state.completions

    def teardown(self) -> None:
        self.faults = False
        for _ in range(QUIET_POLLS + 2):
            self.now += 60
            summary = run_cycle(self.lister, self.manifests, self.helper, quiet_polls=QUIET_POLLS,
                                now=BASE + timedelta(seconds=self.now))  # fmt: skip
            assert summary.failed_shards == []
        for _ in range(10_000):
            pending = [s for s in (0, 1) if self.checkpoint[s] < len(self.kinesis.shards[s])]
            if not pending:
                break
            self._deliver(pending[0], 10)
        else:
            raise AssertionError("the stream never drained")
        self._check_final_state()

    def _check_final_state(self) -> None:
        letters = list(self.dlq.entries())
        for key in sorted(self.ever_written):
            state = self.state.get(key)
            current = self.lister.objects.get(key)
            if current is None:
                assert state is None or state.status == DELETED, (key, state)
                continue
            final = Fingerprint.of(current)
            assert state is not None, f"{key} at its final version was lost"
            assert state.fingerprint == final, (key, state, final)
            if "bad" in key:
                assert state.status == FAILED
                events = [_decode(letter.data) for letter in letters if letter.kind == "failed"]
                assert any(e is not None and e.key == key and e.fingerprint == final for e in events)
            else:
                assert state.status == COMPLETED, (key, state)
                assert self.state.completions[(key, final.etag)] == 1
                assert self.outputs[key] == final.etag
        malformed = Counter(letter.data for letter in letters if letter.kind == "malformed")
        assert set(self.garbage) <= set(malformed), (self.garbage, malformed)


def _decode(data: str) -> ChangeEvent | None:
    try:
        return ChangeEvent.from_json(base64.b64decode(data))
    except ValueError:
        return None


# 200 generated runs in CI; set STREAMING_STATEFUL_EXAMPLES higher for a deeper search.
EXAMPLES = int(os.environ.get("STREAMING_STATEFUL_EXAMPLES", "200"))
StreamingMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None)
TestStreamingUnderFaults = StreamingMachine.TestCase
