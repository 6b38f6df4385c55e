"""Change detection by a sorted-manifest merge-diff, sharded by top-level prefix.

An S3 access point on FSx for ONTAP sends no event notifications, so changes are found by listing.
The floor is the listing itself (one ListObjectsV2 call per 1,000 keys). This module adds almost
nothing on top: for every top-level prefix ("shard") the previous listing is kept in S3 as a
gzip-compressed JSON-lines manifest sorted by key, and the new listing pages are merge-joined
against it as two streams. That costs 0 DynamoDB reads, one S3 GET and at most one PUT per shard,
O(N) CPU, and memory that does not grow with N: the old manifest is read as a stream, the new one
is written to a spooled temporary file, and the change events wait in another spooled file until
the shard's listing finished cleanly.

Rules that keep it safe:

* **Emit, then record "seen".** A shard's new manifest is written only after every change event
  of that shard was accepted by the stream. A crash in between re-emits (a duplicate, absorbed by
  the consumer's fingerprint-conditioned state), never loses.
* **Quiet period.** A new fingerprint is first recorded as *pending* in the manifest; it is
  emitted once it was seen unchanged on ``quiet_polls`` further polls, so a file still being
  written over NFS/SMB is not processed half-written.
* **Failure isolation.** A shard whose listing fails keeps its old manifest and emits nothing; the
  other shards proceed. No shard is ever declared deleted because a listing failed.
* **Byte order.** The merge needs the listing in UTF-8 byte order (ListObjectsV2's order; Python's
  ``str`` comparison is code-point order, which is the same order). If a listing is ever out of
  order the shard is listed again and sorted on disk instead of emitting false changes.
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import io
import json
import logging
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol, TypeVar
from urllib.parse import quote, unquote

from shared.change_events import ChangeEvent, Fingerprint, utc_stamp
from shared.clients import LazyClient
from shared.errors import PatternError, StorageError, aws_error_code
from shared.s3ap import ObjectInfo, S3AccessPoint
from shared.streaming.kinesis import PutRecordsFailedError, StreamingHelper, StreamRecord

logger = logging.getLogger(__name__)

ROOT_SHARD = ""
MANIFEST_FORMAT = "fsxn-s3ap-manifest"
MANIFEST_VERSION = 1
SPOOL_BYTES = 256 * 1024  # per spooled file kept in memory before it rolls over to /tmp
WRITE_BUFFER_CHARS = 64 * 1024
SORT_RUN_ITEMS = 100_000


class ListingOrderError(PatternError):
    """A listing was not in strictly increasing byte order, so the merge cannot trust it."""


class ManifestError(PatternError):
    """A stored manifest is unreadable or out of order; the shard keeps it and fails."""


# -- manifest entries and the merge-diff -----------------------------------------------------------


@dataclass(slots=True)
class ManifestEntry:
    """What the producer knows about one key.

    ``seen`` is the fingerprint last emitted (None until the first emission); ``pending`` a newer
    fingerprint waiting out the quiet period, seen unchanged on ``polls`` further polls.
    """

    key: str
    seen: Fingerprint | None = None
    pending: Fingerprint | None = None
    polls: int = 0
    raw: str | None = field(default=None, compare=False, repr=False)  # the line it was read from

    def to_line(self) -> str:
        row: list[Any] = [self.key, self.seen.to_list() if self.seen else None]
        if self.pending is not None:
            row += [self.pending.to_list(), self.polls]
        return json.dumps(row, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_line(cls, line: str) -> ManifestEntry:
        row = json.loads(line)
        if not isinstance(row, list) or len(row) not in (2, 4) or not isinstance(row[0], str):
            raise ManifestError(f"malformed manifest line {line[:120]!r}")
        seen = Fingerprint(*row[1]) if row[1] is not None else None
        if len(row) == 2:
            return cls(row[0], seen, raw=line if line.endswith("\n") else line + "\n")
        return cls(row[0], seen, Fingerprint(*row[2]), int(row[3]))


UNCHANGED, CREATED, MODIFIED, DELETED, QUIET, DROPPED = (
    "unchanged",
    "created",
    "modified",
    "deleted",
    "quiet",
    "dropped",
)


@dataclass(slots=True)
class DiffStep:
    """One key's outcome: the manifest entry to keep (None = remove) and the change to emit, if any."""

    key: str
    kind: str
    entry: ManifestEntry | None
    fingerprint: Fingerprint | None = None

    @property
    def emits(self) -> bool:
        return self.kind in (CREATED, MODIFIED, DELETED)


_END = object()


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


_K = TypeVar("_K", bound=_Keyed)


def _in_order(items: Iterable[_K], error: type[PatternError], what: str) -> Iterator[_K]:
    """``items`` as given, raising ``error`` as soon as a key is not above the one before it."""
    last: str | None = None
    for item in items:
        if last is not None and item.key <= last:
            raise error(f"{what} out of order at {item.key!r} after {last!r}")
        last = item.key
        yield item


def _judge(old: ManifestEntry | None, obj: ObjectInfo, quiet_polls: int) -> DiffStep:
    current = Fingerprint.of(obj)
    if old is not None and old.seen == current:
        entry = old if old.pending is None else ManifestEntry(old.key, old.seen)
        return DiffStep(obj.key, UNCHANGED, entry)
    polls = old.polls + 1 if old is not None and old.pending == current else 0
    if polls >= quiet_polls:
        kind = CREATED if old is None or old.seen is None else MODIFIED
        return DiffStep(obj.key, kind, ManifestEntry(obj.key, current), current)
    seen = old.seen if old is not None else None
    return DiffStep(obj.key, QUIET, ManifestEntry(obj.key, seen, current, polls))


def _gone(old: ManifestEntry, quiet_polls: int) -> DiffStep:
    """A key that is no longer listed.

    It is announced as deleted if it was ever emitted, or if it *may* have been: a pending entry one
    unchanged poll away from emission was emitted by any cycle that then died before writing its
    manifest. Announcing such a deletion twice or needlessly costs one idempotent state write;
    missing it would leave a deleted file marked completed forever.
    """
    if old.seen is not None:
        return DiffStep(old.key, DELETED, None, old.seen)
    if old.pending is not None and old.polls + 1 >= quiet_polls:
        return DiffStep(old.key, DELETED, None, old.pending)
    return DiffStep(old.key, DROPPED, None)


def merge_diff(
    old: Iterable[ManifestEntry], listed: Iterable[ObjectInfo], *, quiet_polls: int = 1
) -> Iterator[DiffStep]:
    """Merge-join the previous manifest with the new listing, both sorted by key.

    Yields one step per key in the union, in key order. Raises :class:`ListingOrderError` if the
    listing is not strictly increasing and :class:`ManifestError` if the manifest is not.
    """
    if quiet_polls < 0:
        raise ValueError("quiet_polls must be >= 0")
    old_it = _in_order(old, ManifestError, "manifest")
    new_it = _in_order(listed, ListingOrderError, "listing")
    o: Any = next(old_it, _END)
    n: Any = next(new_it, _END)
    while o is not _END or n is not _END:
        if n is not _END and (o is _END or n.key < o.key):
            yield _judge(None, n, quiet_polls)
            n = next(new_it, _END)
        elif o is not _END and (n is _END or o.key < n.key):
            yield _gone(o, quiet_polls)
            o = next(old_it, _END)
        else:
            yield _judge(o, n, quiet_polls)
            n, o = next(new_it, _END), next(old_it, _END)


# -- listing ---------------------------------------------------------------------------------------


class Lister(Protocol):
    """Where the objects come from: top-level shards, and the pages of one shard in key order."""

    def shards(self) -> list[str]: ...

    def pages(self, shard: str) -> Iterator[list[ObjectInfo]]: ...


class S3Lister:
    """Lists an S3 access point by top-level prefix below ``prefix``.

    A shard is a prefix one level below ``prefix`` such as ``"products/"`` (or
    ``"catalog/products/"`` with ``prefix="catalog/"``); :data:`ROOT_SHARD` (``""``) holds the
    files directly at ``prefix``. Listing by prefix keeps each ONTAP directory read bounded.
    """

    def __init__(
        self, access_point: S3AccessPoint, suffixes: Sequence[str] = (), *, prefix: str = ""
    ) -> None:
        if prefix and not prefix.endswith("/"):
            raise ValueError(f"a listing prefix is a folder ending in '/', got {prefix!r}")
        self.access_point = access_point
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.prefix = prefix

    def shards(self) -> list[str]:
        """Every prefix one level below ``prefix``, plus the root shard if files sit at that level."""
        found: list[str] = []
        root = False
        for page in self.access_point.iter_level(self.prefix, suffixes=self.suffixes):
            found.extend(page.prefixes)
            root = root or bool(page.objects)
        return ([ROOT_SHARD] if root else []) + found

    def pages(self, shard: str) -> Iterator[list[ObjectInfo]]:
        if shard != ROOT_SHARD:
            yield from self.access_point.iter_pages(shard, suffixes=self.suffixes)
            return
        for page in self.access_point.iter_level(self.prefix, suffixes=self.suffixes):
            yield page.objects

    def iter_objects(self) -> Iterator[ObjectInfo]:
        """Every wanted object, shard by shard (the polling path's reconciliation walks this)."""
        for shard in self.shards():
            for page in self.pages(shard):
                yield from page


def shard_of(key: str) -> str:
    """The shard a key belongs to: its top-level prefix with the slash, or the root shard."""
    head, sep, _ = key.partition("/")
    return head + "/" if sep else ROOT_SHARD


def _objects(pages: Iterable[list[ObjectInfo]]) -> Iterator[ObjectInfo]:
    for page in pages:
        yield from page


def external_sort(objects: Iterable[ObjectInfo], run_items: int = SORT_RUN_ITEMS) -> Iterator[ObjectInfo]:
    """Sort a listing that arrived out of order, in runs on disk, dropping duplicate keys.

    This is the safe fallback, not the normal path: memory stays bounded by ``run_items``.
    """
    runs: list[IO[str]] = []
    chunk: list[ObjectInfo] = []

    def spill() -> None:
        chunk.sort(key=lambda o: o.key)
        run = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in the finally below
        for obj in chunk:
            run.write(json.dumps([obj.key, obj.etag, obj.size, obj.last_modified.isoformat()]) + "\n")
        run.seek(0)
        runs.append(run)
        chunk.clear()

    try:
        for obj in objects:
            chunk.append(obj)
            if len(chunk) >= run_items:
                spill()
        if chunk:
            spill()

        def read(run: IO[str]) -> Iterator[ObjectInfo]:
            for line in run:
                key, etag, size, last_modified = json.loads(line)
                yield ObjectInfo(key, size, etag, datetime.fromisoformat(last_modified))

        previous: str | None = None
        for obj in heapq.merge(*(read(r) for r in runs), key=lambda o: o.key):
            if obj.key == previous:
                logger.warning("listing returned %r twice; keeping the first", obj.key)
                continue
            previous = obj.key
            yield obj
    finally:
        for run in runs:
            run.close()


# -- manifests in S3 -------------------------------------------------------------------------------


class ManifestStore:
    """One gzip JSON-lines manifest per shard under ``bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str = "manifests/", client: Any | None = None) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self._client = client

    client = LazyClient("s3")

    @property
    def shard_prefix(self) -> str:
        return f"{self.prefix}shards/"

    def key_for(self, shard: str) -> str:
        name = "_root" if shard == ROOT_SHARD else "p-" + quote(shard, safe="")
        return f"{self.shard_prefix}{name}.jsonl.gz"

    def shard_for(self, key: str) -> str | None:
        if not key.startswith(self.shard_prefix) or not key.endswith(".jsonl.gz"):
            return None
        name = key[len(self.shard_prefix) : -len(".jsonl.gz")]
        if name == "_root":
            return ROOT_SHARD
        return unquote(name[2:]) if name.startswith("p-") else None

    def known_shards(self) -> set[str]:
        """Shards that have a manifest (so a folder that vanished entirely still reports deletions)."""
        found: set[str] = set()
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.shard_prefix):
            for item in page.get("Contents", ()):
                shard = self.shard_for(item["Key"])
                if shard is not None:
                    found.add(shard)
        return found

    @contextlib.contextmanager
    def read(self, shard: str, *, exists: bool = True) -> Iterator[Iterator[ManifestEntry]]:
        """Stream a shard's entries (empty if it has no manifest), closing the body afterwards."""
        if not exists:
            yield iter(())
            return
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key_for(shard))
        except ClientError as error:
            if aws_error_code(error) in {"NoSuchKey", "404"}:
                yield iter(())
                return
            raise StorageError(f"reading manifest of shard {shard!r} failed: {error}") from error
        body = response["Body"]
        try:
            yield _read_entries(body, shard)
        finally:
            body.close()

    def write(self, shard: str, spool: IO[bytes]) -> None:
        spool.seek(0)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key_for(shard),
            Body=spool,
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
        )

    def delete(self, shard: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key_for(shard))


def _read_entries(body: Any, shard: str) -> Iterator[ManifestEntry]:
    try:
        with gzip.GzipFile(fileobj=body, mode="rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
            header = json.loads(text.readline() or "null")
            if not isinstance(header, dict) or header.get("format") != MANIFEST_FORMAT:
                raise ManifestError(f"manifest of shard {shard!r} has no valid header")
            if header.get("version") != MANIFEST_VERSION:
                raise ManifestError(f"manifest of shard {shard!r} has version {header.get('version')!r}")
            for line in text:
                yield ManifestEntry.from_line(line)
    except (OSError, EOFError, ValueError, TypeError) as error:
        raise ManifestError(f"manifest of shard {shard!r} is unreadable: {error}") from error


class ManifestWriter:
    """Writes a manifest as gzip JSON lines into a spooled temporary file (memory stays bounded)."""

    def __init__(self, shard: str, run_id: str) -> None:
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self._gzip = gzip.GzipFile(fileobj=self.spool, mode="wb", compresslevel=1, mtime=0)
        self.count = 0
        header = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "shard": shard, "run_id": run_id}
        self._lines: list[str] = [json.dumps(header) + "\n"]
        self._buffered = 0

    def add(self, entry: ManifestEntry) -> None:
        # An unchanged entry is copied as the line it was read from: no re-serialization.
        line = entry.raw if entry.raw is not None else entry.to_line() + "\n"
        self._lines.append(line)
        self._buffered += len(line)
        self.count += 1
        if self._buffered >= WRITE_BUFFER_CHARS:
            self._flush()

    def _flush(self) -> None:
        self._gzip.write("".join(self._lines).encode("utf-8"))
        self._lines.clear()
        self._buffered = 0

    def finish(self) -> IO[bytes]:
        self._flush()
        self._gzip.close()
        self.spool.seek(0)
        return self.spool

    def discard(self) -> None:
        self._gzip.close()
        self.spool.close()


# -- one shard -------------------------------------------------------------------------------------


@dataclass
class ShardResult:
    """The outcome of diffing one shard; its events wait in ``events`` until the stream takes them."""

    shard: str
    counts: dict[str, int] = field(default_factory=dict)
    events: IO[str] | None = None
    event_count: int = 0
    manifest: ManifestWriter | None = None
    dirty: bool = False
    sorted_fallback: bool = False

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
        if self.manifest is not None:
            self.manifest.discard()


def diff_shard(
    shard: str,
    lister: Lister,
    manifests: ManifestStore,
    *,
    has_manifest: bool,
    quiet_polls: int,
    detected_at: str,
    run_id: str,
    partition_key: Callable[[str], str],
) -> ShardResult:
    """List one shard, merge it with its manifest, and spool the events and the new manifest.

    If the listing turns out not to be in byte order, the shard is listed again and sorted on
    disk (``sorted_fallback``) rather than emitting false changes.
    """
    for fallback in (False, True):
        result = ShardResult(shard, sorted_fallback=fallback)
        result.events = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8")  # noqa: SIM115
        result.manifest = ManifestWriter(shard, run_id)
        counts = dict.fromkeys((UNCHANGED, CREATED, MODIFIED, DELETED, QUIET, DROPPED), 0)
        listed = 0
        try:
            objects: Iterable[ObjectInfo] = _objects(lister.pages(shard))
            if fallback:
                objects = external_sort(objects)
            with manifests.read(shard, exists=has_manifest) as old:
                for step in merge_diff(old, objects, quiet_polls=quiet_polls):
                    counts[step.kind] += 1
                    if step.kind != DELETED and step.kind != DROPPED:
                        listed += 1
                    if step.entry is not None:
                        result.manifest.add(step.entry)
                    if step.kind != UNCHANGED:
                        result.dirty = True
                    if step.emits:
                        assert step.fingerprint is not None
                        event = ChangeEvent(step.key, step.kind, step.fingerprint, detected_at, run_id)
                        result.events.write(json.dumps([partition_key(step.key), event.to_json()]) + "\n")
                        result.event_count += 1
        except ListingOrderError as error:
            result.close()
            if fallback:
                raise
            logger.warning("shard %r: %s; listing again and sorting on disk", shard, error.reason)
            continue
        except BaseException:
            result.close()
            raise
        result.counts = {**counts, "listed": listed}
        result.events.seek(0)
        return result
    raise AssertionError("unreachable: the sorted listing either returns or raises")


# -- the cycle -------------------------------------------------------------------------------------


@dataclass
class CycleSummary:
    """What one producer run did; returned by the producer Lambda."""

    run_id: str
    shards: int = 0
    listed: int = 0
    unchanged: int = 0
    created: int = 0
    modified: int = 0
    deleted: int = 0
    emitted: int = 0
    pending_quiet: int = 0
    put_requests: int = 0
    manifests_written: int = 0
    sorted_fallback: list[str] = field(default_factory=list)
    failed_shards: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Emitter:
    """Puts events of several shards in shared full batches; commits a shard once all its events are in.

    Small shards thus share PutRecords requests (about ceil(changes/500) calls a cycle), while a
    shard's manifest still waits for the last of its own events.
    """

    def __init__(self, helper: StreamingHelper, summary: CycleSummary, manifests: ManifestStore) -> None:
        self.helper = helper
        self.summary = summary
        self.manifests = manifests
        self.buffer: list[StreamRecord] = []
        self.buffer_bytes = 0
        self.waiting: list[ShardResult] = []
        self.doomed: set[str] = set()
        self.limit = helper.config.max_records_per_request
        self.byte_limit = helper.config.max_bytes_per_request

    def add_shard(self, result: ShardResult) -> None:
        assert result.events is not None
        for line in result.events:
            if result.shard in self.doomed:
                break
            key, data = json.loads(line)
            record = StreamRecord(data.encode("utf-8"), key, tag=result.shard)
            if self.buffer and (
                len(self.buffer) >= self.limit or self.buffer_bytes + record.size > self.byte_limit
            ):
                self.flush()
            self.buffer.append(record)
            self.buffer_bytes += record.size
        if result.shard in self.doomed:
            result.close()
            return
        self.waiting.append(result)
        if not self.buffer:
            self._commit()

    def flush(self) -> None:
        if not self.buffer:
            self._commit()
            return
        batch, self.buffer, self.buffer_bytes = self.buffer, [], 0
        try:
            put = self.helper.put_records(batch)
        except PutRecordsFailedError as error:
            shards = {r.tag for r in batch} | {w.shard for w in self.waiting}
            self.summary.emitted += error.accepted
            reason = f"{len(error.records)} change event(s) not accepted by the stream: {error.reason}"
            for shard in sorted(shards):
                self._fail(shard, reason)
            return
        self.summary.emitted += put.records
        self._commit()

    def _fail(self, shard: str, reason: str) -> None:
        if shard not in self.doomed:
            self.doomed.add(shard)
            self.summary.failed_shards.append({"shard": shard, "reason": reason})
        for result in [w for w in self.waiting if w.shard == shard]:
            self.waiting.remove(result)
            result.close()

    def _commit(self) -> None:
        """Every waiting shard's events are accepted: record "seen" by writing its manifest."""
        waiting, self.waiting = self.waiting, []
        for result in waiting:
            try:
                if result.shard in self.doomed:
                    continue
                if result.dirty:
                    assert result.manifest is not None
                    if result.manifest.count:
                        self.manifests.write(result.shard, result.manifest.finish())
                    else:
                        self.manifests.delete(result.shard)
                    self.summary.manifests_written += 1
            except Exception as error:
                logger.exception("writing the manifest of shard %r failed", result.shard)
                self.summary.failed_shards.append(
                    {"shard": result.shard, "reason": f"manifest write failed (events re-emit): {error}"}
                )
            finally:
                result.close()


def run_cycle(
    lister: Lister,
    manifests: ManifestStore,
    helper: StreamingHelper,
    *,
    quiet_polls: int = 1,
    run_id: str | None = None,
    now: datetime | None = None,
    max_workers: int = 4,
) -> CycleSummary:
    """One producer cycle over every shard: list, diff, emit, then record "seen" per shard.

    Shards are listed and diffed in parallel (at most ``max_workers`` at once, with a look-ahead
    of one shard per worker so spooled results cannot pile up); emission and manifest writes
    happen in shard order on the calling thread. A failing shard is reported in
    ``failed_shards`` and keeps its manifest; the others proceed.
    """
    summary = CycleSummary(run_id=run_id or uuid.uuid4().hex)
    detected_at = utc_stamp(now)
    known = manifests.known_shards()
    shards = set(known)
    try:
        shards.update(lister.shards())
    except PatternError as error:
        logger.error("discovering top-level prefixes failed: %s; diffing known shards only", error.reason)
        summary.failed_shards.append({"shard": "(discovery)", "reason": error.reason})
    ordered = sorted(shards)
    summary.shards = len(ordered)
    emitter = _Emitter(helper, summary, manifests)
    requests_before = helper.requests

    def work(shard: str) -> ShardResult:
        return diff_shard(
            shard,
            lister,
            manifests,
            has_manifest=shard in known,
            quiet_polls=quiet_polls,
            detected_at=detected_at,
            run_id=summary.run_id,
            partition_key=helper.partition_key,
        )

    def settle(shard: str, future: Future[ShardResult]) -> None:
        try:
            result = future.result()
        except Exception as error:  # noqa: BLE001 - isolated per shard and reported, never hidden
            reason = error.reason if isinstance(error, PatternError) else f"{type(error).__name__}: {error}"
            logger.error("shard %r failed and keeps its manifest: %s", shard, reason)
            summary.failed_shards.append({"shard": shard, "reason": reason})
            return
        _count(summary, result)
        emitter.add_shard(result)

    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="shard") as pool:
        window: deque[tuple[str, Future[ShardResult]]] = deque()
        try:
            for shard in ordered:
                window.append((shard, pool.submit(work, shard)))
                if len(window) > max_workers:
                    settle(*window.popleft())
            while window:
                settle(*window.popleft())
            emitter.flush()
        finally:
            for _, future in window:
                future.cancel()
                with contextlib.suppress(Exception):
                    future.result().close()
            summary.put_requests = helper.requests - requests_before
    return summary


def _count(summary: CycleSummary, result: ShardResult) -> None:
    counts = result.counts
    summary.listed += counts.get("listed", 0)
    summary.unchanged += counts.get(UNCHANGED, 0)
    summary.created += counts.get(CREATED, 0)
    summary.modified += counts.get(MODIFIED, 0)
    summary.deleted += counts.get(DELETED, 0)
    summary.pending_quiet += counts.get(QUIET, 0)
    if result.sorted_fallback:
        summary.sorted_fallback.append(result.shard)
