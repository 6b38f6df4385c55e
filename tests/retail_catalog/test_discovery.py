"""Polling discovery: manifest and chunks instead of a file list, the results-index skip rule, 10k files."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retail_catalog.contract import DEFAULT_SUFFIXES as IMAGES
from shared.formats.samples.images import seed_bucket
from shared.polling.discovery import (
    MAX_CHUNK_BYTES,
    Chunk,
    ManifestChunkError,
    StateIndex,
    discover,
    load_chunk,
    slash_order,
)
from shared.polling.keys import output_key
from shared.s3ap import ObjectInfo, S3AccessPoint
from shared.state import state_table_definition
from tests.handlers import load_handler

REGION = "us-east-1"
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def _aps(buckets: dict[str, Any]) -> tuple[S3AccessPoint, S3AccessPoint]:
    client = buckets["client"]
    return S3AccessPoint(buckets["source"], client), S3AccessPoint(buckets["output"], client)


def _manifest(output: S3AccessPoint, key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.get_bytes(key).decode().splitlines()]


def _chunks(output: S3AccessPoint, key: str) -> list[dict[str, Any]]:
    return list(json.loads(output.get_bytes(key)))


def _mark_done(buckets: dict[str, Any], key: str, etag: str) -> None:
    buckets["client"].put_object(Bucket=buckets["output"], Key=output_key(key, etag), Body=b"{}")


def test_discovery_writes_a_manifest_and_returns_only_pointers(buckets: dict[str, Any]) -> None:
    source, output = _aps(buckets)
    result = discover(source, output, suffixes=IMAGES, run_id="run-1", chunk_size=5)
    payload = result.to_dict()
    assert "files" not in payload and len(json.dumps(payload)) < 1024
    assert (result.listed, result.files_to_process, result.skipped) == (12, 12, 0)
    entries = _manifest(output, result.manifest_key)
    assert [e["key"] for e in entries] == sorted(buckets["etags"])
    assert all(e["etag"] == buckets["etags"][e["key"]] for e in entries)
    chunks = _chunks(output, result.chunks_key)
    assert [(c["offset"], c["count"]) for c in chunks] == [(0, 5), (5, 5), (10, 2)]
    assert result.chunk_count == 3
    loaded = [f["key"] for c in chunks for f in load_chunk(output, Chunk.from_dict(c))]
    assert loaded == [e["key"] for e in entries]


def test_only_listed_suffixes_are_discovered(buckets: dict[str, Any]) -> None:
    buckets["client"].put_object(Bucket=buckets["source"], Key="products/notes.txt", Body=b"x")
    buckets["client"].put_object(Bucket=buckets["source"], Key="products/dir/", Body=b"")
    source, output = _aps(buckets)
    result = discover(source, output, suffixes=IMAGES, run_id="r")
    assert result.listed == 12


def test_files_with_a_result_for_their_current_etag_are_skipped(buckets: dict[str, Any]) -> None:
    etags = buckets["etags"]
    done = ["products/shoes/sneaker-001.jpg", "products/home/lamp-006.png"]
    for key in done:
        _mark_done(buckets, key, etags[key])
    # A result for an older version does not count.
    _mark_done(buckets, "products/bags/tote-003.png", "an-old-etag")
    source, output = _aps(buckets)
    result = discover(source, output, suffixes=IMAGES, run_id="r2")
    keys = [e["key"] for e in _manifest(output, result.manifest_key)]
    assert result.skipped == 2 and result.files_to_process == 10
    assert not set(done) & set(keys)
    assert "products/bags/tote-003.png" in keys
    # The same-named file in the other folder is not mistaken for the finished one.
    assert "products/bags/sneaker-001.jpg" in keys


def test_a_modified_file_is_discovered_again(buckets: dict[str, Any]) -> None:
    key = "products/shoes/sneaker-001.jpg"
    _mark_done(buckets, key, buckets["etags"][key])
    buckets["client"].put_object(Bucket=buckets["source"], Key=key, Body=b"new bytes")
    source, output = _aps(buckets)
    result = discover(source, output, suffixes=IMAGES, run_id="r3")
    assert key in [e["key"] for e in _manifest(output, result.manifest_key)]


def test_nothing_to_do_gives_zero_chunks_and_an_empty_chunk_list(buckets: dict[str, Any]) -> None:
    for key, etag in buckets["etags"].items():
        _mark_done(buckets, key, etag)
    source, output = _aps(buckets)
    result = discover(source, output, suffixes=IMAGES, run_id="r4")
    assert (result.files_to_process, result.chunk_count) == (0, 0)
    assert _chunks(output, result.chunks_key) == []


def test_chunks_are_also_cut_by_bytes_so_a_chunk_fits_the_state_payload(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="vol-long")
    s3.create_bucket(Bucket="out-long")
    for i in range(300):
        s3.put_object(Bucket="vol-long", Key=f"{'deep-folder-name/' * 50}{i:04d}.jpg", Body=b"x")
    source, output = S3AccessPoint("vol-long", s3), S3AccessPoint("out-long", s3)
    result = discover(source, output, suffixes=IMAGES, run_id="long", chunk_size=1000)
    chunks = _chunks(output, result.chunks_key)
    assert len(chunks) > 1
    assert all(c["last_byte"] - c["first_byte"] + 1 <= MAX_CHUNK_BYTES for c in chunks)
    assert sum(c["count"] for c in chunks) == 300
    files = load_chunk(output, Chunk.from_dict(chunks[1]))
    assert len(json.dumps({"run_id": "long", "files": files})) < 256 * 1024


def test_a_chunk_that_does_not_match_the_manifest_fails_loudly(buckets: dict[str, Any]) -> None:
    source, output = _aps(buckets)
    result = discover(source, output, suffixes=IMAGES, run_id="r5", chunk_size=4)
    chunk = _chunks(output, result.chunks_key)[0]
    with pytest.raises(ManifestChunkError, match="should hold 5"):
        load_chunk(output, Chunk.from_dict({**chunk, "count": 5}))
    with pytest.raises(ManifestChunkError):
        Chunk.from_dict({"manifest_key": "m", "offset": 0})


def test_the_state_table_filter_skips_versions_the_stream_completed(buckets: dict[str, Any]) -> None:
    completed = {"products/shoes/boot-002.jpg", "products/home/rug-007.jpeg"}
    seen: list[int] = []

    def completed_keys(batch: Any) -> set[str]:
        seen.append(len(batch))
        return {obj.key for obj in batch if obj.key in completed}

    source, output = _aps(buckets)
    state = StateIndex(completed_keys, batch=5)
    result = discover(source, output, suffixes=IMAGES, run_id="r6", state_filter=state)
    keys = {e["key"] for e in _manifest(output, result.manifest_key)}
    assert not keys & completed and result.files_to_process == 10
    assert seen == [5, 5, 2] and state.reads == 12
    assert result.mode == "output-index+state-table"


def test_the_state_table_is_read_only_for_files_without_a_result(buckets: dict[str, Any]) -> None:
    for key, etag in list(buckets["etags"].items())[:8]:
        _mark_done(buckets, key, etag)
    state = StateIndex(lambda batch: set())
    source, output = _aps(buckets)
    discover(source, output, suffixes=IMAGES, run_id="r7", state_filter=state)
    assert state.reads == 4


def _obj(key: str) -> ObjectInfo:
    return ObjectInfo(key=key, size=1, etag="e", last_modified=STAMP)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab-./ ", min_size=1, max_size=6), unique=True, max_size=30))
def test_slash_order_is_the_order_result_keys_list_in(keys: list[str]) -> None:
    ordered = [o.key for o in slash_order(_obj(k) for k in sorted(keys))]
    assert ordered == sorted(keys, key=lambda k: k + "/")


def test_ten_thousand_files_are_discovered_with_flat_payloads(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="big-volume")
    s3.create_bucket(Bucket="big-output")
    keys = seed_bucket("big-volume", 10_000)
    source, output = S3AccessPoint("big-volume", s3), S3AccessPoint("big-output", s3)
    result = discover(source, output, suffixes=IMAGES, run_id="big", chunk_size=100)
    assert (result.listed, result.files_to_process, result.chunk_count) == (10_000, 10_000, 100)
    assert len(json.dumps(result.to_dict())) < 1024
    chunks = _chunks(output, result.chunks_key)
    assert [c["offset"] for c in chunks] == list(range(0, 10_000, 100))
    assert all(b["first_byte"] == a["last_byte"] + 1 for a, b in itertools.pairwise(chunks))
    last = load_chunk(output, Chunk.from_dict(chunks[-1]))
    assert [f["key"] for f in last] == sorted(keys)[-100:]


def test_the_skip_rule_holds_at_scale(aws: None) -> None:
    from moto.s3.models import s3_backends

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="mid-volume")
    s3.create_bucket(Bucket="mid-output")
    keys = sorted(seed_bucket("mid-volume", 2_000, folders=7))
    backend = s3_backends["123456789012"]["global"]
    done = keys[::2]
    for key in done:
        etag = backend.get_object("mid-volume", key).etag.strip('"')
        backend.put_object("mid-output", output_key(key, etag), b"{}")
    source, output = S3AccessPoint("mid-volume", s3), S3AccessPoint("mid-output", s3)
    result = discover(source, output, suffixes=IMAGES, run_id="mid", chunk_size=250)
    assert (result.listed, result.files_to_process, result.skipped) == (2_000, 1_000, 1_000)
    assert [e["key"] for e in _manifest(output, result.manifest_key)] == keys[1::2]


# -- the handler ------------------------------------------------------------------------------------


@pytest.fixture
def discovery(monkeypatch: pytest.MonkeyPatch, buckets: dict[str, Any]) -> Any:
    monkeypatch.setenv("ACCESS_POINT", buckets["source"])
    monkeypatch.setenv("OUTPUT_BUCKET", buckets["output"])
    monkeypatch.setenv("CHUNK_SIZE", "5")
    return load_handler("retail-catalog/functions/discovery/handler.py")


def test_handler_discovers_then_serves_each_chunk(discovery: Any, buckets: dict[str, Any]) -> None:
    result = discovery.handler({"run_id": "exec-1"}, None)
    assert result["run_id"] == "exec-1" and result["chunk_count"] == 3
    assert result["manifest_key"] == "polling/runs/exec-1/manifest.jsonl"
    chunks = json.loads(
        buckets["client"].get_object(Bucket=buckets["output"], Key=result["chunks_key"])["Body"].read()
    )
    loaded = discovery.handler({"action": "load_chunk", "run_id": "exec-1", "chunk": chunks[2]}, None)
    assert loaded["run_id"] == "exec-1"
    assert [set(f) for f in loaded["files"]] == [{"key", "etag", "size", "last_modified"}] * 2


def test_handler_makes_up_a_run_id_when_started_by_hand(discovery: Any) -> None:
    result = discovery.handler({}, None)
    assert result["run_id"] and result["listed"] == 12


def test_handler_refuses_a_malformed_chunk_request(discovery: Any) -> None:
    with pytest.raises(ValueError, match="lacks"):
        discovery.handler({"action": "load_chunk", "run_id": "x"}, None)


def test_handler_uses_the_state_table_when_streaming_is_on(
    discovery: Any, buckets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**state_table_definition("state"))
    monkeypatch.setenv("STATE_TABLE", "state")
    from shared import config

    config.reset()
    _mark_done(buckets, "deleted/x.jpg", "e1")
    result = discovery.handler({"run_id": "exec-2"}, None)
    assert result["mode"] == "output-index+state-table" and result["files_to_process"] == 12
    assert result["deletions_reconciled"] == 1 and result["state_marked_deleted"] == 0  # no state item


def test_discovery_removes_results_and_marks_state_of_deleted_files(buckets: dict[str, Any]) -> None:
    from shared.change_events import Fingerprint
    from shared.state import DELETED, StateStore

    source, output = _aps(buckets)
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**state_table_definition("state"))
    state = StateStore("state", ddb)
    fp = Fingerprint("e1", 1, "2026-01-01T00:00:00+00:00")
    for key in ("gone/a.jpg", "gone/b.jpg"):  # completed by the stream, then deleted from the volume
        claim = state.claim(key, fp, detected_at="2026-01-01T00:01:00.000000Z", token="t", timeout_seconds=60)
        assert state.complete(claim)
        _mark_done(buckets, key, "e1")
    assert state.mark_deleted(
        "gone/b.jpg", fp, detected_at="2026-01-01T00:02:00.000000Z"
    )  # the stream saw it
    _mark_done(buckets, "gone/c.txt", "e1")  # outside the suffix filter: not evidence of a deletion
    kept = sorted(buckets["etags"])[0]
    _mark_done(buckets, kept, buckets["etags"][kept])

    def mark(key: str) -> bool:
        return state.mark_gone(key, detected_at="2026-06-01T00:00:00.000000Z")

    result = discover(source, output, suffixes=IMAGES, run_id="r-del", mark_deleted=mark)
    assert (result.deletions_reconciled, result.state_marked_deleted) == (2, 1)
    remaining = {o.key for o in output.iter_objects("results/")}
    assert remaining == {output_key(kept, buckets["etags"][kept]), output_key("gone/c.txt", "e1")}
    assert state.get("gone/a.jpg").status == DELETED and state.get("gone/b.jpg").status == DELETED
    again = discover(source, output, suffixes=IMAGES, run_id="r-del-2", mark_deleted=mark)
    assert (again.deletions_reconciled, again.state_marked_deleted) == (0, 0)


def test_a_file_re_created_since_the_listing_keeps_its_results_and_state(buckets: dict[str, Any]) -> None:
    from shared.change_events import Fingerprint
    from shared.polling.discovery import Orphan, reconcile_deletions
    from shared.state import COMPLETED, StateStore

    source, output = _aps(buckets)
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**state_table_definition("state"))
    state = StateStore("state", ddb)
    key = sorted(buckets["etags"])[0]  # listed as gone, but back on the volume now
    fp = Fingerprint("e9", 1, "2026-01-01T00:00:00+00:00")
    claim = state.claim(key, fp, detected_at="2026-06-01T00:05:00.000000Z", token="t", timeout_seconds=60)
    assert state.complete(claim)
    _mark_done(buckets, key, "e9")
    orphan = Orphan(key, (output_key(key, "e9"),))
    assert reconcile_deletions(source, output, [orphan], mark_deleted=lambda k: True) == (0, 0)
    assert output.head(output_key(key, "e9"))
    # A deletion stamped before a newer event is refused by the state itself.
    assert not state.mark_gone(key, detected_at="2026-06-01T00:00:00.000000Z")
    assert state.get(key).status == COMPLETED


class ListedOutput:
    """An output bucket reduced to a sorted key list, as ListObjectsV2 would page it."""

    def __init__(self, keys: set[str]) -> None:
        self.keys = sorted(keys)
        self.target = "out"

    def iter_pages(self, prefix: str = "", *, suffixes: Any = (), **_: Any) -> Any:
        matching = [k for k in self.keys if k.startswith(prefix) and k.endswith(tuple(suffixes))]
        for start in range(0, len(matching), 3):
            yield [ObjectInfo(k, 1, "x", STAMP) for k in matching[start : start + 3]]

    def head(self, key: str) -> ObjectInfo:
        if key not in self.keys:
            from shared.errors import ObjectNotFoundError

            raise ObjectNotFoundError("missing", key=key)
        return ObjectInfo(key, 1, "x", STAMP)


_names = st.text(alphabet="ab-. /", min_size=1, max_size=5).map(lambda s: "p/" + s.strip("/"))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        _names.filter(lambda k: not k.endswith("/") and ".." not in k.split("/")),
        st.tuples(st.sampled_from(["e1", "e2"]), st.sampled_from(["none", "current", "old", "both"])),
        max_size=25,
    ),
    st.dictionaries(
        _names.filter(lambda k: not k.endswith("/") and ".." not in k.split("/")),
        st.sampled_from(["e1", "e2"]),
        max_size=6,
    ),
)
def test_the_results_index_keeps_exactly_the_files_without_a_current_result(
    files: dict[str, tuple[str, str]], gone: dict[str, str]
) -> None:
    from shared.polling.discovery import OutputIndex

    gone = {k: e for k, e in gone.items() if k not in files}
    results = {output_key(k, e) for k, e in gone.items()}
    for key, (etag, which) in files.items():
        other = "e2" if etag == "e1" else "e1"
        if which in {"current", "both"}:
            results.add(output_key(key, etag))
        if which in {"old", "both"}:
            results.add(output_key(key, other))
    listing = [ObjectInfo(k, 1, files[k][0], STAMP) for k in sorted(files)]
    index = OutputIndex(ListedOutput(results))  # type: ignore[arg-type]
    pending = index(listing)
    expected = {k for k, (_, which) in files.items() if which in {"none", "old"}}
    found = {o.key for o in pending}
    orphans = {o.key: set(o.result_keys) for o in index.orphans}
    # Every deleted file with a result is found, with exactly its result documents.
    assert all(orphans.get(k) == {output_key(k, e)} for k, e in gone.items()), orphans
    # No other, unless a key is also a folder of another key (result keys then list out of key
    # order); reconcile_deletions checks each key once more before removing anything.
    everything = set(files) | set(gone)
    if not any(b.startswith(a + "/") for a in everything for b in everything):
        assert set(orphans) == set(gone)
    # Never skips a file without a current result.
    assert found >= expected
    # Exact unless a key is also used as a folder of another key, which a file system forbids;
    # then the rule errs towards processing the file again.
    if not any(b.startswith(a + "/") for a in everything for b in everything):
        assert found == expected
