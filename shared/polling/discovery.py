"""Polling discovery: find the file versions that still need processing and write them to a manifest.

The state machine never carries a file list. Discovery streams the listing of the access point,
keeps the files that have no result yet for their current version, writes them as JSON lines to
``polling/runs/<run_id>/manifest.jsonl`` in the output bucket, and writes a small JSON array of
chunk descriptors (``chunks.json``) that a Distributed Map reads with ItemReader. Each chunk names
a byte range of the manifest, so loading a chunk is one ranged GET whatever the manifest's size.

"Already processed" is decided without a database: a result key encodes the ETag of the version it
describes, so a merge-join of the (sorted) source listing against the (sorted) listing of the
results prefix finds the files whose current version has no result. That costs one extra LIST
request per 1,000 results and keeps memory flat. When streaming is on, the few files left are also
checked against the stream's state table, so a version the stream already completed is skipped.
Every imperfection of this rule errs towards processing a file again, never towards skipping it.

The same merge-join finds deletions for free: a result group whose source key is no longer
listed belongs to a file that was deleted. Discovery removes those results and, with streaming on,
marks the file's state ``deleted`` unless the stream already did (or a newer event owns it). So a
deletion the stream missed heals within one polling run, and the run reports how many it healed.
Results under ``results/by-hash/`` (keys too long for the readable layout) carry no source key in
their name and are not reconciled.

A run has a budget (``max_files``): discovery stops adding files once it is spent and counts the
rest as deferred. A cursor (``polling/cursor.json``: the last key a run took) makes the next run
start after it and wrap around, so a backlog drains in key order over runs and no file starves,
even when files near the start of the listing keep changing.
"""

from __future__ import annotations

import heapq
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.errors import ObjectNotFoundError, PatternError
from shared.observability import xray_subsegment
from shared.polling.contract import DEFAULT_CHUNK_SIZE
from shared.polling.keys import BY_HASH_PREFIX, BY_KEY_PREFIX, RESULT_SUFFIX, etag_token, output_key
from shared.s3ap import ObjectInfo, S3AccessPoint

logger = logging.getLogger(__name__)

RUNS_PREFIX = "polling/runs/"
CURSOR_KEY = "polling/cursor.json"
# A chunk's file list travels through the state payload (256 KiB); keep each well below it.
MAX_CHUNK_BYTES = 96 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
STATE_BATCH = 100


class ManifestChunkError(PatternError):
    """A chunk descriptor does not match the manifest it points into."""


@dataclass(frozen=True)
class Chunk:
    """A slice of the run manifest: ``count`` lines starting at line ``offset``, by byte range."""

    manifest_key: str
    offset: int
    count: int
    first_byte: int
    last_byte: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Chunk:
        if not isinstance(data, dict):
            raise ManifestChunkError("a chunk descriptor must be an object")
        try:
            chunk = cls(
                manifest_key=str(data["manifest_key"]),
                offset=int(data["offset"]),
                count=int(data["count"]),
                first_byte=int(data["first_byte"]),
                last_byte=int(data["last_byte"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ManifestChunkError(f"invalid chunk descriptor: {error!r}") from error
        if chunk.count < 1 or chunk.offset < 0 or chunk.last_byte < chunk.first_byte:
            raise ManifestChunkError("a chunk needs count >= 1, offset >= 0 and a non-empty byte range")
        return chunk


@dataclass
class DiscoveryResult:
    """What Discovery returns to the state machine: pointers and counts, never the file list."""

    run_id: str
    bucket: str
    manifest_key: str
    chunks_key: str
    listed: int = 0
    skipped: int = 0  # listed versions that already have a result (or a completed state)
    deferred: int = 0  # versions still to process that the run's budget left to later runs
    files_to_process: int = 0
    chunk_count: int = 0
    mode: str = "output-index"
    in_flight: str = ""  # another run of this state machine that was already running: nothing done
    deletions_reconciled: int = 0  # deleted files whose results were removed or state marked deleted
    state_marked_deleted: int = 0  # of those, files whose state still said otherwise

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PendingFilter(Protocol):
    """Takes listed objects (in listing order) and yields those that still need processing."""

    def __call__(self, objects: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]: ...


def manifest_line(obj: ObjectInfo) -> bytes:
    record = {
        "key": obj.key,
        "etag": obj.etag,
        "size": obj.size,
        "last_modified": obj.last_modified.isoformat(),
    }
    return (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def run_prefix(run_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in run_id)[:80] or "run"
    return f"{RUNS_PREFIX}{safe}/"


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


# -- "already processed" from the results listing ---------------------------------------------------


def slash_order(objects: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
    """Re-order a key-sorted stream into ``key + "/"`` order, the order result keys list in.

    The two orders differ only where a key is a prefix of a later key whose next character sorts
    before ``/`` (``a.jpg`` then ``a.jpg-2.jpg``). A pending item can be released once the incoming
    key is at least ``pending + "/"``, so the buffer only ever holds such prefix chains.
    """
    pending: list[tuple[str, int, ObjectInfo]] = []
    for counter, obj in enumerate(objects):
        while pending and pending[0][0] <= obj.key:
            yield heapq.heappop(pending)[2]
        heapq.heappush(pending, (obj.key + "/", counter, obj))
    while pending:
        yield heapq.heappop(pending)[2]


def _result_versions(output: S3AccessPoint, prefix: str) -> Iterator[tuple[str, set[str]]]:
    """``(source key + "/", {etag tokens})`` for every result under ``results/by-key/<prefix>``."""
    current: str | None = None
    tokens: set[str] = set()
    for page in output.iter_pages(BY_KEY_PREFIX + prefix, suffixes=(RESULT_SUFFIX,)):
        for item in page:
            rest = item.key[len(BY_KEY_PREFIX) :]
            head, _, name = rest.rpartition("/")
            if not head:
                continue
            group = head + "/"
            if group != current:
                if current is not None:
                    yield current, tokens
                current, tokens = group, set()
            tokens.add(name[: -len(RESULT_SUFFIX)])
    if current is not None:
        yield current, tokens


@dataclass(frozen=True)
class Orphan:
    """A source key that is no longer listed, with the result documents of its versions."""

    key: str
    result_keys: tuple[str, ...]


class OutputIndex:
    """Skips objects whose current ETag already has a result document (merge-join, flat memory).

    While it merges, it collects in :attr:`orphans` the result groups whose source key was not
    listed (within ``suffixes``): the files deleted since their results were written. The list is
    complete once the objects it was given are exhausted.
    """

    def __init__(self, output: S3AccessPoint, prefix: str = "", suffixes: Sequence[str] = ()) -> None:
        self.output = output
        self.prefix = prefix
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.head_checks = 0
        self.orphans: list[Orphan] = []

    def _has_hashed_result(self, key: str) -> bool:
        # Keys too long for the readable layout are rare; check them one by one.
        self.head_checks += 1
        try:
            self.output.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def _gone(self, group: tuple[str, set[str]]) -> None:
        key = group[0][:-1]
        if self.suffixes and not key.lower().endswith(self.suffixes):
            return  # outside the listing's filter: not evidence of a deletion
        names = tuple(f"{BY_KEY_PREFIX}{group[0]}{token}{RESULT_SUFFIX}" for token in sorted(group[1]))
        self.orphans.append(Orphan(key, names))

    def __call__(self, objects: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
        results = _result_versions(self.output, self.prefix)
        current = next(results, None)
        listed = False  # whether the current result group's source key was listed
        for obj in slash_order(objects):
            out_key = output_key(obj.key, obj.etag)
            if out_key.startswith(BY_HASH_PREFIX):
                if not self._has_hashed_result(out_key):
                    yield obj
                continue
            group = obj.key + "/"
            while current is not None and current[0] < group:
                if not listed:
                    self._gone(current)
                current, listed = next(results, None), False
            if current is not None and current[0] == group:
                listed = True
                if etag_token(obj.etag) in current[1]:
                    continue
            yield obj
        while current is not None:
            if not listed:
                self._gone(current)
            current, listed = next(results, None), False


def reconcile_deletions(
    source: S3AccessPoint,
    output: S3AccessPoint,
    orphans: Iterable[Orphan],
    *,
    mark_deleted: Callable[[str], bool] | None = None,
) -> tuple[int, int]:
    """Remove the results of deleted files and mark their state deleted; returns (files, states).

    A key is checked once more just before its results go, so a file re-created since the
    listing keeps them. ``mark_deleted`` is the state store's conditional write: it refuses when
    the state is already deleted or a newer event owns the file.
    """
    files = states = 0
    for orphan in orphans:
        if any(obj.key == orphan.key for obj in source.iter_objects(orphan.key)):
            continue  # re-created since the listing: it is not gone
        for result_key in orphan.result_keys:
            output.delete(result_key)
        if mark_deleted is not None and mark_deleted(orphan.key):
            states += 1
        files += 1
        logger.info("reconciled deleted file %r: %d result(s) removed", orphan.key, len(orphan.result_keys))
    return files, states


class StateIndex:
    """Skips objects whose current version the stream already completed (batched state reads).

    ``completed_keys`` receives up to 100 objects and returns the keys whose current fingerprint is
    ``completed`` in the state table; it wraps the state store of the streaming path.
    """

    def __init__(self, completed_keys: Callable[[Sequence[ObjectInfo]], set[str]], batch: int = STATE_BATCH):
        self.completed_keys = completed_keys
        self.batch = batch
        self.reads = 0

    def __call__(self, objects: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
        buffer: list[ObjectInfo] = []
        for obj in objects:
            buffer.append(obj)
            if len(buffer) >= self.batch:
                yield from self._flush(buffer)
                buffer = []
        if buffer:
            yield from self._flush(buffer)

    def _flush(self, batch: list[ObjectInfo]) -> Iterator[ObjectInfo]:
        self.reads += len(batch)
        done = self.completed_keys(batch)
        return (obj for obj in batch if obj.key not in done)


# -- the run manifest -------------------------------------------------------------------------------


def _upload(output: S3AccessPoint, key: str, spool: Any, size: int) -> None:
    spool.seek(0)
    if size <= SPOOL_IN_MEMORY:
        output.put(key, spool.read(), content_type="application/x-ndjson")
        return
    parts = iter(lambda: spool.read(SPOOL_IN_MEMORY), b"")
    output.upload_multipart(key, parts, content_type="application/x-ndjson")


class _ChunkBuilder:
    """Cuts the manifest into chunks of at most ``size`` lines and ``max_bytes`` bytes."""

    def __init__(self, manifest_key: str, size: int, max_bytes: int) -> None:
        self.manifest_key, self.size, self.max_bytes = manifest_key, size, max_bytes
        self.chunks: list[dict[str, Any]] = []
        self.position = 0
        self.lines = 0
        self._start, self._first_line, self._count = 0, 0, 0

    def add(self, line_bytes: int) -> None:
        too_big = self.position + line_bytes - self._start > self.max_bytes
        if self._count and (self._count >= self.size or too_big):
            self.close()
        self.position += line_bytes
        self.lines += 1
        self._count += 1

    def close(self) -> None:
        if self._count:
            chunk = Chunk(self.manifest_key, self._first_line, self._count, self._start, self.position - 1)
            self.chunks.append(chunk.to_dict())
        self._start, self._first_line, self._count = self.position, self.lines, 0


class RunBudget:
    """Takes at most ``limit`` pending files per run, starting after ``cursor`` and wrapping around.

    Files after the cursor come first, in listing order; files at or before it are kept (at most
    ``limit`` of them, so memory stays bounded by the budget) and taken only if the budget is not
    spent by the end of the listing. The whole stream is always consumed, so the counts and the
    deletion reconciliation still see every file. ``limit`` 0 means no budget.
    """

    def __init__(self, limit: int = 0, cursor: str = "") -> None:
        if limit < 0:
            raise ValueError("a run budget cannot be negative")
        self.limit = limit
        self.cursor = cursor
        self.taken = 0
        self.deferred = 0
        self.last_key = ""

    def _room(self) -> bool:
        return not self.limit or self.taken < self.limit

    def __call__(self, objects: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
        wrapped: list[ObjectInfo] = []
        for obj in objects:
            if self.cursor and obj.key <= self.cursor:
                if not self.limit or len(wrapped) < self.limit:
                    wrapped.append(obj)
                else:
                    self.deferred += 1
            elif self._room():
                self.taken += 1
                self.last_key = obj.key
                yield obj
            else:
                self.deferred += 1
        for obj in wrapped:
            if self._room():
                self.taken += 1
                self.last_key = obj.key
                yield obj
            else:
                self.deferred += 1

    def next_cursor(self) -> str:
        """Where the next run starts: after the last key taken, or from the top when nothing waits."""
        return self.last_key if self.deferred else ""


def read_cursor(output: S3AccessPoint) -> str:
    """The key the previous budgeted run stopped at ("" when none did)."""
    try:
        data = json.loads(output.get_bytes(CURSOR_KEY, max_bytes=64 * 1024))
    except ObjectNotFoundError:
        return ""
    except json.JSONDecodeError as error:
        raise ManifestChunkError(f"{CURSOR_KEY} is not JSON: {error}", key=CURSOR_KEY) from error
    after = data.get("after", "") if isinstance(data, dict) else None
    if not isinstance(after, str):
        raise ManifestChunkError(f"{CURSOR_KEY} must be an object with a string 'after'", key=CURSOR_KEY)
    return after


def write_cursor(output: S3AccessPoint, after: str, run_id: str) -> None:
    body = json.dumps({"after": after, "run_id": run_id}, sort_keys=True).encode("utf-8")
    output.put(CURSOR_KEY, body, content_type="application/json")


def discover(
    source: S3AccessPoint,
    output: S3AccessPoint,
    *,
    run_id: str,
    prefix: str = "",
    suffixes: Sequence[str] = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_files: int = 0,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
    state_filter: PendingFilter | None = None,
    mark_deleted: Callable[[str], bool] | None = None,
) -> DiscoveryResult:
    """List ``prefix`` (keys ending in one of ``suffixes``; every key when empty) on the access point.

    Writes the run manifest of the versions that have no result yet (at most ``max_files`` of
    them, 0 for no budget) and its chunk descriptors, then reconciles deletions: results of files
    no longer listed are removed and, through ``mark_deleted``, their state is marked deleted.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    base = run_prefix(run_id)
    result = DiscoveryResult(
        run_id=run_id,
        bucket=output.target,
        manifest_key=base + "manifest.jsonl",
        chunks_key=base + "chunks.json",
        mode="output-index+state-table" if state_filter else "output-index",
    )

    def listed() -> Iterator[ObjectInfo]:
        for obj in source.iter_objects(prefix, suffixes=suffixes):
            result.listed += 1
            yield obj

    index = OutputIndex(output, prefix, suffixes)
    pending: Iterable[ObjectInfo] = index(listed())
    if state_filter is not None:
        pending = state_filter(pending)
    cursor = read_cursor(output) if max_files else ""
    budget = RunBudget(max_files, cursor)
    builder = _ChunkBuilder(result.manifest_key, chunk_size, max_chunk_bytes)
    with (
        tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool,
        xray_subsegment("discover", {"prefix": prefix}),
    ):
        for obj in budget(pending):
            line = manifest_line(obj)
            builder.add(len(line))
            spool.write(line)
        builder.close()
        result.files_to_process = builder.lines
        result.deferred = budget.deferred
        result.skipped = result.listed - result.files_to_process - result.deferred
        result.chunk_count = len(builder.chunks)
        _upload(output, result.manifest_key, spool, builder.position)
    body = json.dumps(builder.chunks, separators=(",", ":")).encode()
    output.put(result.chunks_key, body, content_type="application/json")
    if max_files and budget.next_cursor() != cursor:
        write_cursor(output, budget.next_cursor(), run_id)
    # Only after the whole listing went through: a half-read listing never declares deletions.
    result.deletions_reconciled, result.state_marked_deleted = reconcile_deletions(
        source, output, index.orphans, mark_deleted=mark_deleted
    )
    logger.info(
        "run %s: listed %d, %d to process in %d chunks, %d already done, %d deferred to later runs, "
        "%d deletion(s) reconciled",
        run_id,
        result.listed,
        result.files_to_process,
        result.chunk_count,
        result.skipped,
        result.deferred,
        result.deletions_reconciled,
    )
    return result


def in_flight_result(output: S3AccessPoint, *, run_id: str, in_flight: str) -> DiscoveryResult:
    """The result of a run that found another one in flight: nothing listed, nothing written."""
    base = run_prefix(run_id)
    logger.warning("run %s: another run is in flight (%s); this run does nothing", run_id, in_flight)
    return DiscoveryResult(
        run_id=run_id,
        bucket=output.target,
        manifest_key=base + "manifest.jsonl",
        chunks_key=base + "chunks.json",
        mode="in-flight",
        in_flight=in_flight,
    )


def load_chunk(output: S3AccessPoint, chunk: Chunk) -> list[dict[str, Any]]:
    """The files of one chunk, read with one ranged GET of the manifest."""
    data = output.get_range(chunk.manifest_key, chunk.first_byte, chunk.last_byte)
    lines = [line for line in data.decode("utf-8").split("\n") if line]
    if len(lines) != chunk.count:
        raise ManifestChunkError(
            f"chunk at line {chunk.offset} of {chunk.manifest_key} should hold {chunk.count} entries, "
            f"found {len(lines)}",
            manifest_key=chunk.manifest_key,
        )
    files = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ManifestChunkError(f"manifest line is not JSON: {error}") from error
        files.append(
            {
                "key": str(record["key"]),
                "etag": str(record["etag"]),
                "size": int(record["size"]),
                "last_modified": str(record["last_modified"]),
            }
        )
    return files


def run_files(output: S3AccessPoint, chunks_key: str) -> Iterator[dict[str, Any]]:
    """Every file version of a run's manifest, chunk by chunk, as the Distributed Map read them.

    The input of a step after the Map (an aggregation, a report): it reads what Discover wrote, never
    a list carried through the state machine.
    """
    for descriptor in json.loads(output.get_bytes(chunks_key)):
        yield from load_chunk(output, Chunk.from_dict(descriptor))
