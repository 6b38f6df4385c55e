"""Kinesis Data Streams producer side: configuration, partition keys, and PutRecords that loses nothing.

PutRecords accepts at most 500 records and 5 MiB per request, and 1 MiB per record counting the
partition key. It also succeeds *partially*: the response says which entries failed (throttling or
an internal failure) and the caller must send those again. :meth:`StreamingHelper.put_records`
batches under every limit, retries only the failed entries with exponential backoff and full
jitter, keeps each record's identity and relative order, and raises :class:`PutRecordsFailedError`
carrying every record that was not accepted when it gives up. It never drops a record.

Partition keys decide the shard. Every strategy maps one object key to one stable partition key, so
the change events of one file always land on the same shard, in order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.clients import LazyClient
from shared.errors import PatternError, aws_error_code

logger = logging.getLogger(__name__)

MAX_RECORDS_PER_REQUEST = 500
MAX_BYTES_PER_REQUEST = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
MAX_PARTITION_KEY_CHARS = 256

STRATEGIES = ("prefix", "prefix-hash", "key-hash")
ROOT_PARTITION = "_root"

# Whole-request errors worth another try; anything else (a missing stream, a denied KMS key, a
# validation error) will not heal by waiting, so it fails at once with every record still attached.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "InternalFailure",
        "InternalFailureException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSThrottlingException",
        "LimitExceededException",
        "ThrottlingException",
        "RequestTimeout",
    }
)


class StreamingError(PatternError):
    """Base class for stream-side failures."""


class RecordTooLargeError(StreamingError, ValueError):
    """A single record (data plus partition key) is over the 1 MiB PutRecords limit."""


class PutRecordsFailedError(StreamingError):
    """Records were still not accepted after the retry limit; none of them is dropped.

    ``records`` holds every record the stream did not accept, in the order they were given:
    the entries that kept failing and the ones never sent because the helper stopped.
    """

    def __init__(
        self, reason: str, records: Sequence[StreamRecord], *, accepted: int, **details: Any
    ) -> None:
        super().__init__(reason, failed=len(records), accepted=accepted, **details)
        self.records = list(records)
        self.accepted = accepted


@dataclass(frozen=True)
class StreamingConfig:
    """How change events are written to the stream. Round-trips through dict and JSON."""

    stream_name: str
    partition_strategy: str = "prefix-hash"
    partition_buckets: int = 8
    max_records_per_request: int = MAX_RECORDS_PER_REQUEST
    max_bytes_per_request: int = MAX_BYTES_PER_REQUEST
    max_record_bytes: int = MAX_RECORD_BYTES
    max_attempts: int = 8
    base_delay_seconds: float = 0.05
    max_delay_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not self.stream_name:
            raise ValueError("stream_name is required")
        if self.partition_strategy not in STRATEGIES:
            raise ValueError(
                f"partition_strategy must be one of {STRATEGIES}, got {self.partition_strategy!r}"
            )
        if self.partition_buckets < 1:
            raise ValueError("partition_buckets must be at least 1")
        if not 1 <= self.max_records_per_request <= MAX_RECORDS_PER_REQUEST:
            raise ValueError(f"max_records_per_request must be 1..{MAX_RECORDS_PER_REQUEST}")
        if not 1 <= self.max_record_bytes <= MAX_RECORD_BYTES:
            raise ValueError(f"max_record_bytes must be 1..{MAX_RECORD_BYTES}")
        if not self.max_record_bytes <= self.max_bytes_per_request <= MAX_BYTES_PER_REQUEST:
            raise ValueError(f"max_bytes_per_request must be max_record_bytes..{MAX_BYTES_PER_REQUEST}")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_seconds < 0 or self.max_delay_seconds < self.base_delay_seconds:
            raise ValueError("delays must satisfy 0 <= base_delay_seconds <= max_delay_seconds")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown StreamingConfig field(s): {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StreamingConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a StreamingConfig JSON document must be an object")
        return cls.from_dict(data)


# -- partition keys --------------------------------------------------------------------------------


def top_level_prefix(key: str) -> str:
    """The first directory level of ``key`` (``"products"`` for ``"products/a/b.jpg"``)."""
    head, sep, _ = key.partition("/")
    return head if sep and head else ROOT_PARTITION


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _fit(partition_key: str) -> str:
    """Keep a partition key within 256 characters, deterministically."""
    if len(partition_key) <= MAX_PARTITION_KEY_CHARS:
        return partition_key
    return partition_key[: MAX_PARTITION_KEY_CHARS - 33] + "~" + _digest(partition_key)[:32]


def partition_key(key: str, strategy: str = "prefix-hash", buckets: int = 8) -> str:
    """The partition key of an object key under ``strategy``.

    * ``prefix``: the first directory level (the seed's choice; one hot folder makes one hot shard).
    * ``prefix-hash``: the prefix plus ``#<n>`` with n = hash(key) mod ``buckets``, spreading a hot
      folder over up to ``buckets`` shards while one file still maps to one shard.
    * ``key-hash``: a hash of the whole key; the most even spread, no per-folder locality.
    """
    if strategy == "prefix":
        return _fit(top_level_prefix(key))
    if strategy == "prefix-hash":
        if buckets < 1:
            raise ValueError("buckets must be at least 1")
        bucket = int(_digest(key)[:12], 16) % buckets
        prefix = top_level_prefix(key)[: MAX_PARTITION_KEY_CHARS - 12]
        return _fit(f"{prefix}#{bucket}")
    if strategy == "key-hash":
        return _digest(key)[:32]
    raise ValueError(f"unknown partition strategy {strategy!r}; choose one of {STRATEGIES}")


# -- records and batching --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StreamRecord:
    """One record to put. Identity is the object itself: a retried record is the same object.

    ``tag`` is free for the caller (the producer stores the shard the record came from).
    """

    data: bytes
    partition_key: str
    tag: Any = field(default=None, compare=False)

    @property
    def size(self) -> int:
        """Bytes counted against the record and request limits: data plus partition key."""
        return len(self.data) + len(self.partition_key.encode("utf-8"))


def check_record(record: StreamRecord, max_record_bytes: int = MAX_RECORD_BYTES) -> StreamRecord:
    """Return ``record`` if Kinesis can accept it, else raise a clear error."""
    if not record.partition_key or len(record.partition_key) > MAX_PARTITION_KEY_CHARS:
        raise StreamingError(
            f"a partition key must be 1..{MAX_PARTITION_KEY_CHARS} characters, "
            f"got {len(record.partition_key)}"
        )
    if record.size > max_record_bytes:
        raise RecordTooLargeError(
            f"record of {record.size} bytes (data plus partition key {record.partition_key!r}) is over the "
            f"{max_record_bytes}-byte PutRecords limit; store the payload in S3 and stream a pointer",
            size=record.size,
            limit=max_record_bytes,
            partition_key=record.partition_key,
        )
    return record


def iter_batches(
    records: Iterable[StreamRecord],
    *,
    max_records: int = MAX_RECORDS_PER_REQUEST,
    max_bytes: int = MAX_BYTES_PER_REQUEST,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[list[StreamRecord]]:
    """Cut ``records`` into request-sized batches, in order, without reading ahead more than one batch."""
    batch: list[StreamRecord] = []
    size = 0
    for record in records:
        check_record(record, max_record_bytes)
        if batch and (len(batch) >= max_records or size + record.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch


# -- the helper ------------------------------------------------------------------------------------


@dataclass
class PutSummary:
    """What one :meth:`StreamingHelper.put_records` call did."""

    records: int = 0
    requests: int = 0
    retried_entries: int = 0

    def add(self, other: PutSummary) -> None:
        self.records += other.records
        self.requests += other.requests
        self.retried_entries += other.retried_entries


class StreamingHelper:
    """Puts records to one stream, retrying only what failed.

    ``sleep`` and ``random`` are injectable so tests run without waiting and stay deterministic.
    """

    def __init__(
        self,
        config: StreamingConfig,
        client: Any | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.requests = 0  # PutRecords calls made by this helper, for metrics and benchmarks

    client = LazyClient("kinesis")

    def partition_key(self, key: str) -> str:
        return partition_key(key, self.config.partition_strategy, self.config.partition_buckets)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        ceiling = min(self.config.max_delay_seconds, self.config.base_delay_seconds * (2**attempt))
        return self._rng.uniform(0, ceiling)

    def put_records(self, records: Iterable[StreamRecord]) -> PutSummary:
        """Put every record in order, or raise :class:`PutRecordsFailedError` with all not accepted.

        A record too large for Kinesis raises :class:`RecordTooLargeError` before its batch is sent
        (the records of earlier batches are already accepted by then).
        """
        summary = PutSummary()
        accepted = 0
        batches = iter_batches(
            records,
            max_records=self.config.max_records_per_request,
            max_bytes=self.config.max_bytes_per_request,
            max_record_bytes=self.config.max_record_bytes,
        )
        for batch in batches:
            try:
                summary.add(self._put_batch(batch, accepted))
            except PutRecordsFailedError as error:
                # Stop: collect the records never sent, so the caller gets every unaccepted record.
                unsent = [record for rest in batches for record in rest]
                raise PutRecordsFailedError(
                    error.reason,
                    [*error.records, *unsent],
                    accepted=error.accepted,
                    **{k: v for k, v in error.details.items() if k not in {"failed", "accepted"}},
                ) from error
            accepted += len(batch)
        return summary

    def _put_batch(self, batch: list[StreamRecord], accepted_before: int) -> PutSummary:
        summary = PutSummary(records=len(batch))
        pending = batch
        last_codes: dict[str, int] = {}

        def still_failed(reason: str, **details: Any) -> PutRecordsFailedError:
            # Everything not yet accepted goes back to the caller: nothing of the batch is dropped.
            accepted = accepted_before + len(batch) - len(pending)
            return PutRecordsFailedError(reason, pending, accepted=accepted, **details)

        for attempt in range(self.config.max_attempts):
            if attempt:
                self._sleep(self.backoff(attempt - 1))
                summary.retried_entries += len(pending)
            summary.requests += 1
            self.requests += 1
            try:
                response = self.client.put_records(
                    StreamName=self.config.stream_name,
                    Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
                )
            except Exception as error:
                code = aws_error_code(error) or None
                if code not in RETRYABLE_CODES:
                    raise still_failed(
                        f"PutRecords to {self.config.stream_name} failed with "
                        f"{code or type(error).__name__}: {error}",
                        code=code,
                    ) from error
                logger.warning("PutRecords attempt %d failed with %s; retrying", attempt + 1, code)
                last_codes = {code: len(pending)}
                continue
            results = response.get("Records", [])
            if len(results) != len(pending):
                raise still_failed(f"PutRecords returned {len(results)} results for {len(pending)} records")
            failed = [r for r, result in zip(pending, results, strict=True) if result.get("ErrorCode")]
            if not failed:
                return summary
            last_codes = {}
            for result in results:
                if result.get("ErrorCode"):
                    last_codes[result["ErrorCode"]] = last_codes.get(result["ErrorCode"], 0) + 1
            logger.warning(
                "PutRecords attempt %d: %d of %d entries failed (%s); retrying only those",
                attempt + 1,
                len(failed),
                len(pending),
                last_codes,
            )
            pending = failed
        raise still_failed(
            f"{len(pending)} record(s) still not accepted by {self.config.stream_name} after "
            f"{self.config.max_attempts} attempts ({last_codes})",
            error_codes=last_codes,
        )
