"""Tests for change detection: the merge-diff, the quiet period, manifests, failure isolation, order."""

from __future__ import annotations

import base64
import gzip
import json
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.change_events import ChangeEvent, Fingerprint, MalformedEventError
from shared.s3ap import ObjectInfo, S3AccessPoint
from shared.streaming.changes import (
    CREATED,
    DELETED,
    DROPPED,
    MODIFIED,
    QUIET,
    UNCHANGED,
    ManifestEntry,
    ManifestStore,
    S3Lister,
    external_sort,
    merge_diff,
    run_cycle,
    shard_of,
)
from shared.streaming.kinesis import StreamingConfig, StreamingHelper
from tests.streaming_fakes import DictLister, FakeKinesis, FakeManifestS3

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def obj(key: str, version: int = 1, size: int = 100) -> ObjectInfo:
    return ObjectInfo(key, size + version, f"etag-{version}", BASE + timedelta(minutes=version))


def events_of(kinesis: FakeKinesis) -> list[ChangeEvent]:
    records = [r for shard in kinesis.shards for r in shard]
    records.sort(key=lambda r: r["kinesis"]["sequenceNumber"])
    return [ChangeEvent.from_json(base64.b64decode(r["kinesis"]["data"])) for r in records]


class Rig:
    """A lister, manifests in a fake S3, and a fake stream, wired into run_cycle."""

    def __init__(self, quiet_polls: int = 0, fail: Any = None) -> None:
        self.lister = DictLister(page_size=7)
        self.s3 = FakeManifestS3()
        self.manifests = ManifestStore("out", "manifests/", self.s3)
        self.kinesis = FakeKinesis(shards=2, fail=fail)
        self.helper = StreamingHelper(
            StreamingConfig("changes", max_attempts=3), self.kinesis, sleep=lambda s: None
        )
        self.quiet_polls = quiet_polls

    def cycle(self) -> dict[str, Any]:
        before = len(events_of(self.kinesis))
        summary = run_cycle(
            self.lister, self.manifests, self.helper, quiet_polls=self.quiet_polls, max_workers=2
        )
        self.last = events_of(self.kinesis)[before:]
        return summary.to_dict()

    def put(self, *objects: ObjectInfo) -> None:
        for o in objects:
            self.lister.objects[o.key] = o

    def changes(self) -> set[tuple[str, str]]:
        return {(e.event_type, e.key) for e in self.last}


# -- events ----------------------------------------------------------------------------------------

events = st.builds(
    ChangeEvent,
    key=st.from_regex(r"[a-z]{1,5}(/[a-z0-9 ._-]{1,8}){0,3}", fullmatch=True),
    event_type=st.sampled_from(["created", "modified", "deleted"]),
    fingerprint=st.builds(
        Fingerprint, st.text(max_size=34), st.integers(0, 2**40), st.just("2026-01-01T00:00:00")
    ),
    detected_at=st.datetimes(datetime(2000, 1, 1), datetime(2999, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ),
    run_id=st.text(min_size=1, max_size=32),
)


@given(events)
def test_change_event_round_trips_through_json(event: ChangeEvent) -> None:
    assert ChangeEvent.from_json(event.to_json()) == event
    assert json.loads(event.to_json())["version"] == 1


def _event_dict() -> dict[str, Any]:
    return ChangeEvent(
        "a/b.jpg", "created", Fingerprint("e", 1, "t"), "2026-01-01T00:00:00.000000Z", "r"
    ).to_dict()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("key"), "missing field 'key'"),
        (lambda d: d.update(event_type="renamed"), "unknown event_type"),
        (lambda d: d.update(key="../etc/passwd"), "unsafe key"),
        (lambda d: d.update(key="/abs.jpg"), "unsafe key"),
        (lambda d: d.update(version=2), "unsupported event version"),
        (lambda d: d.update(fingerprint={"etag": "e", "size": -1, "last_modified": "t"}), "size"),
        (lambda d: d.update(detected_at="yesterday"), "ISO 8601"),
        (lambda d: d.update(run_id=""), "run_id"),
    ],
)
def test_malformed_events_are_refused_with_the_reason(mutate: Any, message: str) -> None:
    data = _event_dict()
    mutate(data)
    with pytest.raises(MalformedEventError, match=message):
        ChangeEvent.from_dict(data)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{oops", "not valid JSON"),
        (b"\xff{", "not UTF-8"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        ("\ufeff{}", "byte order mark"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 16"),
        ('{"a": "\\udc00"}', "lone surrogate"),
        ('{"\\ud800": 1}', "lone surrogate"),
        (b'{"a": 1' + b"0" * 40 + b"}", "overflows"),
        (b'{"a": -1e400}', "overflows"),
        (b'{"a": NaN}', "not a JSON number"),
    ],
)
def test_hostile_payloads_are_malformed_never_a_crash(payload: str | bytes, message: str) -> None:
    with pytest.raises(MalformedEventError, match=message):
        ChangeEvent.from_json(payload)


def test_depth_check_ignores_brackets_inside_strings() -> None:
    text = event_json_with_key("a/" + "[{" * 40 + ".jpg")
    assert ChangeEvent.from_json(text.encode()).key.startswith("a/[{")


def event_json_with_key(key: str) -> str:
    change = ChangeEvent(key, "created", Fingerprint("e", 1, "2026-01-01T00:00:00+00:00"),
                         "2026-01-01T00:00:00.000000Z", "r")  # fmt: skip
    return change.to_json()


# -- the merge-diff --------------------------------------------------------------------------------

fps = st.sampled_from([Fingerprint(f"e{i}", i, f"t{i}") for i in range(3)])
old_states = st.dictionaries(
    st.text("abcd/", min_size=1, max_size=4),
    st.tuples(st.none() | fps, st.none() | fps, st.integers(0, 3)),
    max_size=25,
)
listings = st.dictionaries(st.text("abcd/", min_size=1, max_size=4), st.integers(0, 2), max_size=25)


def _expected(old: ManifestEntry | None, current: Fingerprint | None, quiet: int) -> str:
    """An independent statement of the rules, used as the oracle."""
    if current is None:
        if old is not None and (old.seen is not None or old.polls + 1 >= quiet):
            return DELETED  # announced, or maybe announced by a cycle that died before its manifest
        return DROPPED
    if old is not None and old.seen == current:
        return UNCHANGED
    polls = old.polls + 1 if old is not None and old.pending == current else 0
    if polls >= quiet:
        return CREATED if old is None or old.seen is None else MODIFIED
    return QUIET


@settings(max_examples=300)
@given(old_states, listings, st.integers(0, 2))
def test_the_diff_partitions_keys_into_unchanged_created_modified_deleted(
    old_raw: dict[str, Any], listed_raw: dict[str, int], quiet: int
) -> None:
    old = {
        k: ManifestEntry(k, seen, pending, polls if pending else 0)
        for k, (seen, pending, polls) in old_raw.items()
        if seen is not None or pending is not None
    }
    fp_of = {k: Fingerprint(f"e{v}", v, f"t{v}") for k, v in listed_raw.items()}
    listed = [ObjectInfo(k, fp.size, fp.etag, BASE) for k, fp in sorted(fp_of.items())]
    # ObjectInfo carries a datetime; build the fingerprints the listing really reports.
    fp_of = {o.key: Fingerprint.of(o) for o in listed}
    old = {k: _retime(e) for k, e in old.items()}

    steps = list(merge_diff([old[k] for k in sorted(old)], listed, quiet_polls=quiet))
    assert [s.key for s in steps] == sorted(set(old) | set(fp_of))  # every key exactly once, in order
    for step in steps:
        assert step.kind == _expected(old.get(step.key), fp_of.get(step.key), quiet)
        if step.kind in (CREATED, MODIFIED):
            assert step.fingerprint == fp_of[step.key] and step.entry == ManifestEntry(
                step.key, fp_of[step.key]
            )
        if step.kind == DELETED:
            assert step.entry is None
            assert step.fingerprint == (old[step.key].seen or old[step.key].pending)
        if step.kind == UNCHANGED:
            assert (
                step.entry is not None and step.entry.seen == fp_of[step.key] and step.entry.pending is None
            )
    kept = [s.entry.key for s in steps if s.entry is not None]
    assert kept == sorted(fp_of)  # the next manifest holds exactly the listed keys, sorted


def _retime(entry: ManifestEntry) -> ManifestEntry:
    def fix(fp: Fingerprint | None) -> Fingerprint | None:
        return None if fp is None else Fingerprint(fp.etag, fp.size, BASE.isoformat())

    return ManifestEntry(entry.key, fix(entry.seen), fix(entry.pending), entry.polls)


def test_an_out_of_order_listing_is_detected() -> None:
    from shared.streaming.changes import ListingOrderError

    with pytest.raises(ListingOrderError):
        list(merge_diff([], [obj("b"), obj("a")]))
    with pytest.raises(ListingOrderError):
        list(merge_diff([], [obj("a"), obj("a")]))


def test_an_out_of_order_manifest_is_reported_as_a_manifest_error() -> None:
    from shared.streaming.changes import ManifestError

    fp = Fingerprint("e", 1, "t")
    with pytest.raises(ManifestError):
        list(merge_diff([ManifestEntry("b", fp), ManifestEntry("a", fp)], []))
    with pytest.raises(ManifestError):
        list(merge_diff([ManifestEntry("a", fp), ManifestEntry("a", fp)], [obj("a")]))


def test_external_sort_orders_and_dedupes_in_runs() -> None:
    keys = [f"k{random.Random(1).randrange(10**6):07d}-{i}" for i in range(50)] + ["k-dup", "k-dup"]
    shuffled = [obj(k) for k in keys]
    random.Random(2).shuffle(shuffled)
    out = [o.key for o in external_sort(shuffled, run_items=7)]
    assert out == sorted(set(keys))


def test_manifest_lines_round_trip() -> None:
    for entry in (
        ManifestEntry("a/ü\n.jpg", Fingerprint("e", 1, "t")),
        ManifestEntry("b", None, Fingerprint("p", 2, "u"), 1),
        ManifestEntry("c", Fingerprint("e", 1, "t"), Fingerprint("p", 2, "u"), 0),
    ):
        assert ManifestEntry.from_line(entry.to_line()) == entry


# -- cycles ----------------------------------------------------------------------------------------


def test_cycle_emits_created_modified_deleted_then_nothing() -> None:
    rig = Rig()
    rig.put(obj("a/1.jpg"), obj("a/2.jpg"), obj("b/x/3.png"), obj("root.jpg"))
    summary = rig.cycle()
    assert rig.changes() == {("created", k) for k in ("a/1.jpg", "a/2.jpg", "b/x/3.png", "root.jpg")}
    assert summary["shards"] == 3 and summary["emitted"] == 4 and summary["failed_shards"] == []
    rig.cycle()
    assert rig.last == []
    rig.put(obj("a/1.jpg", 2))
    del rig.lister.objects["b/x/3.png"]
    summary = rig.cycle()
    assert rig.changes() == {("modified", "a/1.jpg"), ("deleted", "b/x/3.png")}
    assert {e.fingerprint for e in rig.last if e.key == "b/x/3.png"} == {Fingerprint.of(obj("b/x/3.png"))}
    assert summary["modified"] == 1 and summary["deleted"] == 1 and summary["unchanged"] == 2
    assert len({e.run_id for e in rig.last}) == 1


def test_quiet_period_waits_for_a_fingerprint_seen_unchanged_on_two_polls() -> None:
    rig = Rig(quiet_polls=1)
    rig.put(obj("a/1.jpg", 1))
    assert rig.cycle()["pending_quiet"] == 1 and rig.last == []
    rig.put(obj("a/1.jpg", 2))  # still being written: the fingerprint moved
    rig.cycle()
    assert rig.last == []
    rig.cycle()
    assert rig.changes() == {("created", "a/1.jpg")}
    assert rig.last[0].fingerprint == Fingerprint.of(obj("a/1.jpg", 2))
    rig.put(obj("a/1.jpg", 3))
    rig.cycle()
    assert rig.last == []
    rig.cycle()
    assert rig.changes() == {("modified", "a/1.jpg")}


def test_a_file_deleted_early_in_its_quiet_period_is_never_announced() -> None:
    rig = Rig(quiet_polls=2)
    rig.put(obj("a/1.jpg"))
    rig.cycle()
    del rig.lister.objects["a/1.jpg"]
    rig.cycle()
    rig.cycle()
    assert events_of(rig.kinesis) == []


def test_a_deletion_is_announced_if_a_crashed_cycle_may_have_announced_the_file() -> None:
    class Crash(BaseException):
        pass

    def crash(key: str) -> None:
        raise Crash(key)

    rig = Rig(quiet_polls=1)
    rig.put(obj("a/1.jpg"))
    rig.cycle()  # pending
    rig.s3.fail_put = crash
    with pytest.raises(Crash):
        rig.cycle()  # emitted "created", died before recording it
    rig.s3.fail_put = None
    del rig.lister.objects["a/1.jpg"]
    rig.cycle()
    assert [(e.event_type, e.key) for e in events_of(rig.kinesis)] == [
        ("created", "a/1.jpg"),
        ("deleted", "a/1.jpg"),
    ]


def test_one_failing_shard_keeps_its_manifest_and_the_others_proceed() -> None:
    rig = Rig()
    rig.put(obj("a/1.jpg"), obj("a/2.jpg"), obj("b/1.jpg"))
    rig.cycle()
    manifest_a = rig.s3.objects[("out", rig.manifests.key_for("a/"))]
    rig.put(obj("a/3.jpg"), obj("b/2.jpg"))
    rig.lister.broken.add("a/")
    summary = rig.cycle()
    assert rig.changes() == {("created", "b/2.jpg")}  # no false deletes from the half-listed shard
    assert [f["shard"] for f in summary["failed_shards"]] == ["a/"]
    assert rig.s3.objects[("out", rig.manifests.key_for("a/"))] == manifest_a
    rig.lister.broken.clear()
    rig.cycle()
    assert rig.changes() == {("created", "a/3.jpg")}


def test_nothing_is_recorded_seen_until_the_stream_accepted_it() -> None:
    failing = {"on": True}
    rig = Rig(fail=lambda: failing["on"])
    rig.put(obj("a/1.jpg"), obj("b/1.jpg"))
    summary = rig.cycle()
    assert summary["emitted"] == 0 and {f["shard"] for f in summary["failed_shards"]} == {"a/", "b/"}
    assert rig.s3.objects == {}  # no manifest: the next cycle sees the same changes again
    failing["on"] = False
    rig.cycle()
    assert rig.changes() == {("created", "a/1.jpg"), ("created", "b/1.jpg")}


def test_a_crash_between_put_and_manifest_write_duplicates_and_never_loses() -> None:
    class Crash(BaseException):
        pass

    def crash(key: str) -> None:
        raise Crash(key)

    rig = Rig()
    rig.put(obj("a/1.jpg"))
    rig.s3.fail_put = crash
    with pytest.raises(Crash):
        rig.cycle()
    assert [e.key for e in events_of(rig.kinesis)] == ["a/1.jpg"]
    rig.s3.fail_put = None
    rig.cycle()
    assert rig.changes() == {("created", "a/1.jpg")}  # a duplicate, absorbed by the consumer's state


def test_a_prefix_that_vanished_reports_every_deletion_and_drops_its_manifest() -> None:
    rig = Rig()
    rig.put(obj("gone/1.jpg"), obj("gone/2.jpg"), obj("kept/1.jpg"))
    rig.cycle()
    del rig.lister.objects["gone/1.jpg"], rig.lister.objects["gone/2.jpg"]
    rig.cycle()
    assert rig.changes() == {("deleted", "gone/1.jpg"), ("deleted", "gone/2.jpg")}
    assert ("out", rig.manifests.key_for("gone/")) not in rig.s3.objects
    rig.cycle()
    assert rig.last == []


def test_an_out_of_order_listing_falls_back_to_sorting_instead_of_false_changes() -> None:
    class Shuffled(DictLister):
        def pages(self, shard: str) -> Any:
            items = [o for page in super().pages(shard) for o in page]
            random.Random(3).shuffle(items)
            for start in range(0, len(items), 5):
                yield items[start : start + 5]

    rig = Rig()
    rig.lister = Shuffled(page_size=5)
    rig.put(*(obj(f"a/{i:02d}.jpg") for i in range(30)))
    summary = rig.cycle()
    assert summary["created"] == 30 and summary["sorted_fallback"] == ["a/"]
    summary = rig.cycle()
    assert rig.last == [] and summary["unchanged"] == 30


def test_a_corrupt_manifest_fails_its_shard_without_emitting() -> None:
    rig = Rig()
    rig.put(obj("a/1.jpg"), obj("b/1.jpg"))
    rig.cycle()
    rig.s3.objects[("out", rig.manifests.key_for("a/"))] = gzip.compress(b'{"format":"other"}\n')
    rig.put(obj("b/2.jpg"))
    summary = rig.cycle()
    assert rig.changes() == {("created", "b/2.jpg")}
    assert summary["failed_shards"][0]["shard"] == "a/"
    assert "header" in summary["failed_shards"][0]["reason"]


def test_manifest_is_gzip_json_lines_sorted_by_key() -> None:
    rig = Rig()
    rig.put(*(obj(f"a/{k}.jpg") for k in ("b", "a", "é", "Z", "c")))
    rig.cycle()
    lines = gzip.decompress(rig.s3.objects[("out", "manifests/shards/p-a%2F.jsonl.gz")]).decode().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "fsxn-s3ap-manifest" and header["shard"] == "a/"
    keys = [json.loads(line)[0] for line in lines[1:]]
    assert keys == sorted(keys) == sorted(f"a/{k}.jpg" for k in ("b", "a", "é", "Z", "c"))
    assert sorted(k.encode() for k in keys) == [k.encode() for k in keys]  # byte order == str order


def test_many_small_shards_share_put_requests() -> None:
    rig = Rig()
    rig.put(*(obj(f"d{i:04d}/f.jpg") for i in range(1200)))
    summary = rig.cycle()
    assert summary["emitted"] == 1200 and summary["shards"] == 1200
    assert summary["put_requests"] == math.ceil(1200 / 500) == rig.kinesis.calls


def test_unchanged_shards_are_not_rewritten() -> None:
    rig = Rig()
    rig.put(obj("a/1.jpg"), obj("b/1.jpg"))
    rig.cycle()
    puts = rig.s3.calls["PutObject"]
    rig.put(obj("b/1.jpg", 2))
    summary = rig.cycle()
    assert rig.s3.calls["PutObject"] == puts + 1 and summary["manifests_written"] == 1


def test_shard_of_matches_the_manifest_sharding() -> None:
    assert shard_of("a/b/c.jpg") == "a/"
    assert shard_of("c.jpg") == ""


# -- against an access point in moto ---------------------------------------------------------------


def test_s3_lister_shards_by_top_level_prefix_with_suffix_filter(access_point: dict[str, Any]) -> None:
    s3 = access_point["client"]
    for key in ("a/1.jpg", "a/x/2.PNG", "a/skip.txt", "b/3.webp", "top.jpeg", "top.txt", "c/"):
        s3.put_object(Bucket=access_point["bucket"], Key=key, Body=b"x")
    lister = S3Lister(S3AccessPoint(access_point["arn"], s3), (".jpg", ".jpeg", ".png", ".webp"))
    assert lister.shards() == ["", "a/", "b/", "c/"]
    assert [o.key for p in lister.pages("") for o in p] == ["top.jpeg"]
    assert [o.key for p in lister.pages("a/") for o in p] == ["a/1.jpg", "a/x/2.PNG"]
    assert [o.key for o in lister.iter_objects()] == ["top.jpeg", "a/1.jpg", "a/x/2.PNG", "b/3.webp"]


def test_full_cycle_on_moto_access_point_and_manifest_bucket(access_point: dict[str, Any]) -> None:
    s3 = access_point["client"]
    s3.create_bucket(Bucket="output")
    for i in range(25):
        s3.put_object(Bucket=access_point["bucket"], Key=f"p{i % 3}/{i}.jpg", Body=b"x" * i)
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="changes", ShardCount=1)
    lister = S3Lister(S3AccessPoint(access_point["arn"], s3), (".jpg",))
    manifests = ManifestStore("output", "manifests/", s3)
    helper = StreamingHelper(StreamingConfig("changes"), kinesis)
    assert run_cycle(lister, manifests, helper, quiet_polls=1).emitted == 0
    summary = run_cycle(lister, manifests, helper, quiet_polls=1)
    assert summary.created == 25 and summary.emitted == 25 and summary.put_requests == 1
    assert manifests.known_shards() == {"p0/", "p1/", "p2/"}
    s3.delete_object(Bucket=access_point["bucket"], Key="p1/1.jpg")
    summary = run_cycle(lister, manifests, helper, quiet_polls=1)
    assert summary.deleted == 1 and summary.emitted == 1 and summary.unchanged == 24
