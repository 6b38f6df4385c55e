"""The dataset writer: typed records to gzip JSON Lines, one prefix per record type, one folder per day.

Usage::

    with DatasetWriter(bucket, root="datasets", run_id=run_id) as writer:
        writer.write(ACL_SCHEMA, {"path": "/vol/a.txt", ...}, dt=discovered_at)
    summary = writer.summary          # files, records, bytes, NaN/infinity nulls

Layout: ``s3://<bucket>/<root>/<schema.prefix>/dt=YYYY-MM-DD/<run_id>-<seq>.jsonl.gz``; the Glue
table of a schema points at ``s3://<bucket>/<root>/<schema.prefix>/`` (:func:`dataset_location`),
so Athena never reads two record types under one table.

Every record goes through :meth:`RecordSchema.coerce` (a bad one raises
:class:`~shared.analytics.schema.InvalidRecordError` and nothing of it is written) and is
serialised with ``allow_nan=False``, so no invalid JSON can reach a file.

Memory is bounded: each open file holds at most ``part_size`` compressed bytes before they go out
as one part of a multipart upload (a file smaller than one part is a single PutObject), and at
most ``max_open_files`` files are open at once; the least recently used one is finished first and
the next record for its partition starts a new file. Leaving the ``with`` block on an exception
aborts every open multipart upload, so no half-written object becomes visible.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any

from shared.analytics.schema import RecordSchema, partition_value
from shared.clients import aws_client
from shared.errors import PatternError

logger = logging.getLogger(__name__)

# S3's smallest part (all but the last); 8 MiB keeps the part count of a 10 GB file under 1,300.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
DEFAULT_MAX_OPEN_FILES = 16
GZIP_WBITS = 31  # zlib with a gzip header and trailer (mtime 0: identical input, identical bytes)


class DatasetWriteError(PatternError):
    """Writing a dataset file failed, or the writer was used after it was closed."""


@dataclass(frozen=True)
class WrittenFile:
    """One finished dataset object."""

    key: str
    record_type: str
    dt: str
    records: int
    raw_bytes: int
    gzip_bytes: int


@dataclass
class WriteSummary:
    """What a writer produced."""

    files: list[WrittenFile] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    nonfinite_nulls: Counter[str] = field(default_factory=Counter)

    @property
    def raw_bytes(self) -> int:
        return sum(f.raw_bytes for f in self.files)

    @property
    def gzip_bytes(self) -> int:
        return sum(f.gzip_bytes for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "keys": [f.key for f in self.files],
            "records": dict(self.records),
            "nonfinite_nulls": dict(self.nonfinite_nulls),
            "raw_bytes": self.raw_bytes,
            "gzip_bytes": self.gzip_bytes,
        }


def dataset_location(bucket: str, root: str, schema: RecordSchema) -> str:
    """The S3 URI a schema's Glue table reads: ``s3://bucket/root/prefix/``."""
    return f"s3://{bucket}/{_join(root, schema.prefix)}/"


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


class _OpenFile:
    """One object being written: a gzip stream flushed to S3 part by part."""

    def __init__(self, client: Any, bucket: str, key: str, part_size: int) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.part_size = part_size
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, GZIP_WBITS)
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.records = 0
        self.raw_bytes = 0
        self.gzip_bytes = 0

    def add(self, line: bytes) -> None:
        self.records += 1
        self.raw_bytes += len(line)
        self.buffer += self.compressor.compress(line)
        if len(self.buffer) >= self.part_size:
            self._upload_part(bytes(self.buffer))
            self.buffer.clear()

    def _upload_part(self, body: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="application/x-ndjson", ContentEncoding="gzip"
            )["UploadId"]
        number = len(self.parts) + 1
        etag = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})
        self.gzip_bytes += len(body)

    def finish(self) -> None:
        self.buffer += self.compressor.flush()
        body = bytes(self.buffer)
        self.buffer.clear()
        if self.upload_id is None:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
            )
            self.gzip_bytes += len(body)
            return
        self._upload_part(body)
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        if self.upload_id is not None:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


class DatasetWriter:
    """Writes records of any number of schemas to ``bucket`` under ``root`` (see the module doc)."""

    def __init__(
        self,
        bucket: str,
        *,
        root: str = "",
        run_id: str,
        client: Any = None,
        part_size: int = DEFAULT_PART_SIZE,
        max_open_files: int = DEFAULT_MAX_OPEN_FILES,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size {part_size} is below S3's minimum part of {MIN_PART_SIZE} bytes")
        if max_open_files < 1:
            raise ValueError("max_open_files must be at least 1")
        if not run_id or "/" in run_id:
            raise ValueError(f"run_id {run_id!r} must be a non-empty name without '/'")
        self.bucket = bucket
        self.root = root
        self.run_id = run_id
        self.part_size = part_size
        self.max_open_files = max_open_files
        self._client = client
        self._open: OrderedDict[tuple[str, str], _OpenFile] = OrderedDict()
        self._sequence: Counter[tuple[str, str]] = Counter()
        self._schemas: dict[str, RecordSchema] = {}
        self._closed = False
        self.summary = WriteSummary()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("s3")
        return self._client

    def write(self, schema: RecordSchema, record: Mapping[str, Any], *, dt: date | datetime | str) -> None:
        """Validate ``record`` against ``schema`` and append it to the ``dt`` partition of its dataset."""
        if self._closed:
            raise DatasetWriteError("the dataset writer is closed", bucket=self.bucket)
        known = self._schemas.setdefault(schema.name, schema)
        if known is not schema and known != schema:
            raise DatasetWriteError(
                f"two different schemas are both named {schema.name!r}", record_type=schema.name
            )
        coerced = schema.coerce(record)
        day = partition_value(dt)
        line = (
            json.dumps(coerced.values, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
        ).encode("utf-8")
        self._file(schema, day).add(line)
        self.summary.records[schema.name] += 1
        if coerced.nonfinite:
            self.summary.nonfinite_nulls[schema.name] += coerced.nonfinite

    def _file(self, schema: RecordSchema, day: str) -> _OpenFile:
        slot = (schema.name, day)
        current = self._open.get(slot)
        if current is not None:
            self._open.move_to_end(slot)
            return current
        if len(self._open) >= self.max_open_files:
            oldest, _ = next(iter(self._open.items()))
            self._finish(oldest)
        self._sequence[slot] += 1
        key = _join(
            self.root, schema.prefix, f"dt={day}", f"{self.run_id}-{self._sequence[slot]:04d}.jsonl.gz"
        )
        opened = _OpenFile(self.client, self.bucket, key, self.part_size)
        self._open[slot] = opened
        return opened

    def _finish(self, slot: tuple[str, str]) -> None:
        opened = self._open.pop(slot)
        try:
            opened.finish()
        except Exception:
            opened.abort()
            raise
        self.summary.files.append(
            WrittenFile(opened.key, slot[0], slot[1], opened.records, opened.raw_bytes, opened.gzip_bytes)
        )

    def close(self) -> WriteSummary:
        """Finish every open file and return the summary."""
        try:
            while self._open:
                self._finish(next(iter(self._open)))
        except Exception:
            self.abort()
            raise
        self._closed = True
        return self.summary

    def abort(self) -> None:
        """Abandon every open file (their multipart uploads are aborted; nothing partial is visible)."""
        self._closed = True
        for opened in self._open.values():
            try:
                opened.abort()
            except Exception:  # keep aborting the others; the original error is what the caller sees
                logger.exception("aborting the upload of %s failed", opened.key)
        self._open.clear()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_records(schema: RecordSchema, gzip_body: bytes) -> list[dict[str, Any]]:
    """Every record of one dataset object, decoded under ``schema`` (for tests and small reads)."""
    text = zlib.decompress(gzip_body, GZIP_WBITS).decode("utf-8")
    # Only "\n" ends a line: str.splitlines would also split on U+2028 or U+0085 inside a string.
    return [schema.decode(line) for line in text.split("\n") if line]
