"""Change detection cost: the manifest merge-diff next to the seed's full-Scan design.

At N = 2k, 10k and 20k objects on moto (seeded through its backend, not the API) and at 1M with an
in-memory lister, it measures per producer cycle:

* DynamoDB read units and calls: 0 for the merge-diff, against a full Scan of the state table
  billed as DynamoDB bills it (0.5 RCU per 4 KB read, eventually consistent, per 1 MB page) and a
  BatchGetItem of every listed key (0.5 RCU per item at least);
* S3 calls: the listing floor is ceil(N/1000) ListObjectsV2 calls per cycle, plus one manifest GET
  per shard and one PUT per changed shard;
* detection time over a bare listing of the same pages (target <= 1.3);
* PutRecords calls against ceil(changes/500);
* peak traced memory of a cycle against N (target: flat);
* consumer DynamoDB writes per record (target <= 2).
"""

from __future__ import annotations

import base64
import gc
import logging
import math
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scripts.bench import Report
from shared.change_events import ChangeEvent, Fingerprint
from shared.s3ap import ObjectInfo, S3AccessPoint
from shared.streaming.changes import (
    ManifestEntry,
    ManifestStore,
    ManifestWriter,
    S3Lister,
    run_cycle,
)
from shared.streaming.kinesis import StreamingConfig, StreamingHelper

logger = logging.getLogger(__name__)

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIXES = 16
CHANGE_RATE = 0.01
TIMING_REPEATS = 3
MOTO_SIZES = (2_000, 10_000, 20_000)
MEMORY_SIZES = (2_000, 20_000, 200_000, 1_000_000)
TRACED_UP_TO = 200_000  # tracemalloc slows a cycle several times; the 1M run is timed, not traced
SCAN_PAGE_BYTES = 1024 * 1024
RCU_BYTES = 4096
BASE = datetime(2026, 1, 1, tzinfo=UTC)


# -- DynamoDB billing of the seed's design ---------------------------------------------------------


def _number_size(text: str) -> int:
    digits = len(text.lstrip("-").replace(".", "").strip("0")) or 1
    return (digits + 1) // 2 + 1


def item_size(item: dict[str, Any]) -> int:
    """The size DynamoDB bills for a low-level item: attribute names plus values."""
    size = 0
    for name, typed in item.items():
        size += len(name.encode())
        ((kind, value),) = typed.items()
        if kind == "S":
            size += len(str(value).encode())
        elif kind == "N":
            size += _number_size(str(value))
        else:
            size += 1
    return size


def scan_cost(items: int, size: int) -> tuple[float, int]:
    """(read units, calls) of one eventually consistent Scan over ``items`` items of ``size`` bytes."""
    per_page = max(1, SCAN_PAGE_BYTES // size)
    pages = math.ceil(items / per_page) if items else 1
    units = 0.0
    for page in range(pages):
        count = min(per_page, items - page * per_page)
        units += math.ceil(count * size / RCU_BYTES) * 0.5
    return units, pages


def representative_item_size() -> int:
    """The size of a completed state item as ``shared.state`` writes it (measured on moto)."""
    import boto3
    from moto import mock_aws

    from shared.change_events import Fingerprint
    from shared.state import StateStore, state_table_definition

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**state_table_definition("state"))
        store = StateStore("state", dynamodb)
        key = "d07/img00123456.jpg"
        fp = Fingerprint("9b2cf535f27731c974343645a3985328", 48213, BASE.isoformat())
        claim = store.claim(
            key, fp, detected_at="2026-01-01T00:01:00.000000Z", token="t", timeout_seconds=900
        )
        store.complete(claim, output_key=f"results/{key}.json")
        item = dynamodb.get_item(TableName="state", Key={"file_key": {"S": key}})["Item"]
    return item_size(item)


# -- listers ---------------------------------------------------------------------------------------


def key_of(shard: int, index: int) -> str:
    return f"d{shard:02d}/img{index:08d}.jpg"


class SyntheticLister:
    """N objects over 16 prefixes, generated page by page (nothing held): the 1M-object listing."""

    def __init__(self, n: int, version_of: Any = None) -> None:
        self.n = n
        self.version_of = version_of or (lambda index: 1)

    def shards(self) -> list[str]:
        return [f"d{s:02d}/" for s in range(PREFIXES)]

    def pages(self, shard: str) -> Iterator[list[ObjectInfo]]:
        number = int(shard[1:3])
        count = self.n // PREFIXES + (1 if number < self.n % PREFIXES else 0)
        for start in range(0, count, 1000):
            page = []
            for index in range(start, min(count, start + 1000)):
                version = self.version_of(index)
                if version is None:
                    continue
                page.append(
                    ObjectInfo(key_of(number, index), 1000 + version, f"{index:024x}{version:08x}", BASE)
                )
            yield page


class CountingKinesis:
    """Accepts every record and counts the calls (the 1M run has no stream behind it)."""

    def __init__(self) -> None:
        self.calls = 0
        self.records = 0

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        self.records += len(Records)
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "s"}] * len(Records)}


class DiskS3:
    """Manifests as files in a temporary directory, so stored bytes do not count as producer memory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="manifests-"))

    def _path(self, key: str) -> Path:
        return self.root / key.replace("/", "__")

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"Body": self._path(Key).open("rb")}

    def put_object(self, Bucket: str, Key: str, Body: Any, **_: Any) -> dict[str, Any]:  # noqa: N803
        with self._path(Key).open("wb") as out:
            shutil.copyfileobj(Body, out, 256 * 1024)
        return {}

    def delete_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        self._path(Key).unlink(missing_ok=True)
        return {}

    def get_paginator(self, operation: str) -> Any:
        root = self.root

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> Iterator[dict[str, Any]]:  # noqa: N803
                keys = sorted(p.name.replace("__", "/") for p in root.iterdir())
                yield {"Contents": [{"Key": k} for k in keys if k.startswith(Prefix)]}

        return Pages()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# -- moto runs -------------------------------------------------------------------------------------


def _count_calls(client: Any) -> dict[str, int]:
    counts: dict[str, int] = {}

    def count(model: Any, **_: Any) -> None:
        counts[model.name] = counts.get(model.name, 0) + 1

    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}", count)
    return counts


def _moto_run(report: Report, n: int, scan_item_bytes: int) -> None:
    import boto3
    from moto import mock_aws
    from moto.s3.models import s3_backends

    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="volume")
        s3.create_bucket(Bucket="output")
        backend = s3_backends[ACCOUNT]["aws"]
        per = n // PREFIXES
        for shard in range(PREFIXES):
            for index in range(per):
                backend.put_object("volume", key_of(shard, index), b"\xff\xd8" + index.to_bytes(4, "big"))
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName="changes", ShardCount=4)
        calls = _count_calls(s3)
        dynamodb_calls = 0  # the producer holds no DynamoDB client at all
        lister = S3Lister(S3AccessPoint("volume", s3), (".jpg",))
        manifests = ManifestStore("output", "manifests/", s3)
        helper = StreamingHelper(StreamingConfig("changes"), kinesis)
        run_cycle(lister, manifests, helper, quiet_polls=0, now=BASE)

        # Change 1% (modify, delete and create files spread over every prefix), then time a bare
        # listing and a detection cycle over the same pages. Repeated with fresh changes each time;
        # the median ratio is reported, since one pair on a shared 2-core machine is noisy.
        ratios: list[tuple[float, float, float]] = []
        for repeat in range(TIMING_REPEATS):
            changes = _apply_changes(backend, per, repeat)
            gc.collect()
            started = time.perf_counter()
            for prefix in lister.shards():
                for _page in lister.pages(prefix):
                    pass
            bare = time.perf_counter() - started
            calls.clear()
            requests_before = helper.requests
            started = time.perf_counter()
            summary = run_cycle(
                lister, manifests, helper, quiet_polls=0, now=BASE + timedelta(minutes=1 + repeat)
            )
            detect = time.perf_counter() - started
            put_calls = helper.requests - requests_before
            assert summary.emitted == changes, (summary.to_dict(), changes)
            ratios.append((detect / bare, detect, bare))
        _, detect, bare = sorted(ratios)[len(ratios) // 2]

        scan_rcu, scan_calls = scan_cost(n, scan_item_bytes)
        label = f"N={n:,}"
        _read_units(report, label, n, scan_rcu)
        report.add(
            f"{label} DynamoDB calls per cycle (merge-diff)",
            dynamodb_calls,
            "calls",
            baseline=scan_calls,
            target="0",
            met=dynamodb_calls == 0,
        )
        listing_floor = math.ceil(n / 1000)
        report.add(
            f"{label} ListObjectsV2 calls per cycle",
            calls.get("ListObjectsV2", 0),
            "calls",
            baseline=listing_floor,
            target="≈ floor + shards",
        )
        manifest_calls = calls.get("GetObject", 0) + calls.get("PutObject", 0)
        report.add(
            f"{label} manifest GET + PUT per cycle",
            manifest_calls,
            "calls",
            target=f"≤ 2 per shard ({PREFIXES})",
            met=manifest_calls <= 2 * PREFIXES,
        )
        report.add(
            f"{label} detection / bare listing time",
            detect,
            "s",
            baseline=bare,
            target=f"≤ 1.3 (median of {TIMING_REPEATS})",
            met=detect <= 1.3 * bare,
        )
        _put_calls(report, label, put_calls, changes)
        if n == MOTO_SIZES[0]:
            _consumer_writes(report, kinesis)


def _apply_changes(backend: Any, per: int, repeat: int) -> int:
    """Modify, delete and create 1% of the files of every prefix; each repeat touches other keys."""
    step = int(1 / CHANGE_RATE)
    changes = 0
    for index in range(repeat, per, step):
        for shard in range(PREFIXES):
            kind = (index // step + shard) % 3
            key = key_of(shard, index)
            if kind == 0:
                backend.put_object("volume", key, b"\xff\xd8changed-%d" % repeat)
            elif kind == 1:
                backend.delete_object("volume", key)
            else:
                backend.put_object("volume", key_of(shard, per + index), b"\xff\xd8new")
            changes += 1
    return changes


def _consumer_writes(report: Report, kinesis: Any) -> None:
    """Consumer DynamoDB writes per record: first delivery, then the same records delivered again."""
    import boto3

    from shared.state import DeadLetterStore, StateStore, dead_letter_table_definition, state_table_definition
    from shared.streaming.consumer import Consumer

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**state_table_definition("state"))
    dynamodb.create_table(**dead_letter_table_definition("dlq"))
    shard = kinesis.list_shards(StreamName="changes")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="changes", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    raw = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=40)["Records"]
    records = [
        {
            "eventID": f"{shard}:{r['SequenceNumber']}",
            "kinesis": {
                "sequenceNumber": r["SequenceNumber"],
                "partitionKey": r["PartitionKey"],
                "data": base64.b64encode(r["Data"]).decode(),
            },
        }
        for r in raw
    ]
    state = StateStore("state", dynamodb)
    dlq = DeadLetterStore("dlq", dynamodb)

    def process(event: ChangeEvent) -> dict[str, Any]:
        return {"status": "SUCCEEDED", "key": event.key, "output_key": f"results/{event.key}.json"}

    consumer = Consumer(state, dlq, process)
    report_first = consumer.consume(records)
    assert not report_first.failures
    first = (state.writes + dlq.writes) / len(records)
    before = state.writes + dlq.writes
    consumer.consume(records)
    again = (state.writes + dlq.writes - before) / len(records)
    report.add(
        f"consumer DynamoDB writes per record ({len(records)} records)",
        first,
        "writes",
        target="≤ 2",
        met=first <= 2,
    )
    report.add("consumer DynamoDB writes per duplicate record", again, "writes", target="≤ 2", met=again <= 2)


# -- in-memory runs --------------------------------------------------------------------------------


def _seed_manifests(lister: SyntheticLister, manifests: ManifestStore) -> None:
    """Write the manifests a first cycle would leave, without emitting a million events."""
    for shard in lister.shards():
        writer = ManifestWriter(shard, "seed")
        for page in lister.pages(shard):
            for obj in page:
                writer.add(ManifestEntry(obj.key, Fingerprint.of(obj)))
        manifests.write(shard, writer.finish())


def _memory_run(n: int, *, traced: bool) -> tuple[float, float | None, int, int]:
    """At N objects: (steady cycle seconds, peak traced bytes of a 1%-change cycle, its PutRecords
    calls, its changes). The steady cycle runs first, untraced, and also warms up lazy imports."""
    step = int(1 / CHANGE_RATE)
    lister = SyntheticLister(n)
    storage = DiskS3()
    manifests = ManifestStore("output", "manifests/", storage)
    kinesis = CountingKinesis()
    helper = StreamingHelper(StreamingConfig("changes"), kinesis)
    try:
        _seed_manifests(lister, manifests)
        gc.collect()
        started = time.perf_counter()
        steady = run_cycle(lister, manifests, helper, quiet_polls=0, now=BASE, max_workers=2)
        seconds = time.perf_counter() - started
        assert steady.emitted == 0
        lister.version_of = lambda index: None if index % step == 1 else (2 if index % step == 0 else 1)
        modified = sum(math.ceil(c / step) for c in _shard_counts(n))
        deleted = sum(math.ceil(max(0, c - 1) / step) for c in _shard_counts(n))
        changes = modified + deleted
        gc.collect()
        if traced:
            tracemalloc.start()
        later = BASE + timedelta(minutes=1)
        summary = run_cycle(lister, manifests, helper, quiet_polls=0, now=later, max_workers=2)
        peak: float | None = None
        if traced:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert summary.emitted == changes, (summary.to_dict(), changes)
    finally:
        storage.close()
    return seconds, peak, kinesis.calls, changes


def _read_units(report: Report, label: str, n: int, scan_rcu: float) -> None:
    """DynamoDB read units per cycle: none for the merge-diff, beside the seed's Scan and BatchGetItem."""
    report.add(
        f"{label} DynamoDB RCU per cycle (merge-diff)",
        0,
        "RCU",
        baseline=scan_rcu,
        target="0 (seed: full Scan)",
        met=True,
    )
    report.add(
        f"{label} RCU of BatchGetItem per listed key",
        n * 0.5,
        "RCU",
        baseline=scan_rcu,
        target="(rejected design)",
    )


def _put_calls(report: Report, label: str, put_calls: int, changes: int) -> None:
    """PutRecords requests of one cycle against the floor of 500 records per request."""
    expected = math.ceil(changes / 500)
    report.add(
        f"{label} PutRecords calls ({changes} changes)",
        put_calls,
        "calls",
        baseline=expected,
        target="= ceil(changes/500)",
        met=put_calls == expected,
    )


def _shard_counts(n: int) -> list[int]:
    return [n // PREFIXES + (1 if s < n % PREFIXES else 0) for s in range(PREFIXES)]


def run(report: Report) -> None:
    logging.getLogger("shared").setLevel(logging.WARNING)
    scan_item_bytes = representative_item_size()
    report.add("state item size (completed, as written)", scan_item_bytes, "bytes")
    for n in MOTO_SIZES:
        _moto_run(report, n, scan_item_bytes)
    peaks: dict[int, float] = {}
    for n in MEMORY_SIZES:
        seconds, peak, put_calls, changes = _memory_run(n, traced=n <= TRACED_UP_TO)
        label = f"N={n:,} in-memory"
        if peak is not None:
            peaks[n] = peak
            base_peak = peaks[MEMORY_SIZES[0]]
            report.add(
                f"{label} peak traced memory of a 1% change cycle",
                peak / 2**20,
                "MiB",
                baseline=base_peak / 2**20,
                target="flat (≤ 1.5 x the 2k peak)",
                met=peak <= 1.5 * base_peak,
            )
        report.add(
            f"{label} steady cycle CPU per 1,000 keys",
            seconds / n * 1000 * 1000,
            "ms",
            target="O(N): flat per key",
        )
        _put_calls(report, label, put_calls, changes)
        if n == MEMORY_SIZES[-1]:
            scan_rcu, _ = scan_cost(n, scan_item_bytes)
            _read_units(report, label, n, scan_rcu)
            report.add(f"{label} seed Scan RCU per month at 1 cycle/min", scan_rcu * 60 * 24 * 30, "RCU")
