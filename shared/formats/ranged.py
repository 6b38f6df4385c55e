"""A seekable, read-only file object over one object of an S3 access point, built on ranged GETs.

Readers and libraries that want a file (``pydicom.dcmread``, ``lasio.read``, a hand-written header
parser) get one without the object being downloaded: :class:`RangedReader` is an
:class:`io.RawIOBase` (``read``, ``readinto``, ``seek``, ``tell``, ``readable``, ``seekable``) that
fetches fixed-size blocks with ``GetObject`` ``Range`` requests and keeps the last few in a bounded
LRU cache. Reading a 2 KB header of a 1 GiB file costs one request of one block.

The reader is pinned to one version of the object. Every GET carries ``If-Match`` with the ETag the
caller listed (or, when none is given, the ETag the first response returned), so a file rewritten
over NFS/SMB while it is being read fails with :class:`ObjectChangedError` instead of returning
bytes from two versions. FSx for ONTAP access points do not support object versions; ``version_id``
is passed through for an ordinary bucket that does.

Bytes fetched from S3 and requests made are counted (:attr:`RangedReader.stats`); callers emit
them as the ``BytesRead`` metric of a file, which is how the bench shows a header read costing a
small fraction of the file.

For a sequential pass over the whole object (a FASTQ.gz), :meth:`RangedReader.iter_chunks` streams
from one GET instead of one GET per block, with the same pin and the same counting.

Usage::

    ap = S3AccessPoint(alias)
    with RangedReader(ap, "run1/sample.bam", etag=listed.etag, size=listed.size) as f:
        header = f.read(65536)
        f.seek(-28, io.SEEK_END)
        tail = f.read()
    metrics.add("BytesRead", f.stats.bytes_fetched)
"""

from __future__ import annotations

import io
import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import PatternError, StorageError
from shared.s3ap import S3AccessPoint, validate_key

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_SIZE = 256 * 1024
DEFAULT_MAX_BLOCKS = 16
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class RangedReadError(PatternError):
    """A ranged read could not return the bytes asked for."""


class ObjectChangedError(RangedReadError):
    """The object changed (ETag no longer matches) while it was being read."""


class ShortReadError(RangedReadError):
    """S3 returned fewer bytes than the range asked for: the object shrank or the body was cut."""


@dataclass
class ReadStats:
    """What one reader cost: bytes transferred from S3, GET requests, and cache hits."""

    bytes_fetched: int = 0
    requests: int = 0
    cache_hits: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"bytes_fetched": self.bytes_fetched, "requests": self.requests, "cache_hits": self.cache_hits}


class RangedReader(io.RawIOBase):
    """A read-only, seekable view of ``key`` on ``access_point``, pinned to one ETag.

    ``size`` and ``etag`` are taken from the listing when given; otherwise the first GET supplies
    them (its ``Content-Range`` total and ``ETag``), so no ``HeadObject`` is needed. ``block_size``
    and ``max_blocks`` bound the cache at ``block_size * max_blocks`` bytes.
    """

    def __init__(
        self,
        access_point: S3AccessPoint,
        key: str,
        *,
        etag: str | None = None,
        size: int | None = None,
        version_id: str | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_blocks: int = DEFAULT_MAX_BLOCKS,
    ) -> None:
        super().__init__()
        if block_size <= 0 or max_blocks <= 0:
            raise ValueError("block_size and max_blocks must be positive")
        if size is not None and size < 0:
            raise ValueError("size must not be negative")
        self.access_point = access_point
        self.key = validate_key(key)
        self.etag = etag.strip('"') if etag else None
        self.version_id = version_id
        self.block_size = block_size
        self.max_blocks = max_blocks
        self.stats = ReadStats()
        self._size = size
        self._pos = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()

    # -- io.RawIOBase ----------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._pos + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise OSError(f"negative seek position {position} in {self.key!r}")
        self._pos = position
        return position

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        data = self._read_at(self._pos, len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            size = max(self.size - self._pos, 0)
        data = self._read_at(self._pos, size)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        self._blocks.clear()
        super().close()

    # -- the object ------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The object's size in bytes (one 1-byte GET if neither the caller nor a read gave it)."""
        if self._size is None:
            self._fetch(0, 0)
        assert self._size is not None
        return self._size

    def pread(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (fewer at the end of the object), without moving the position."""
        self._check_open()
        return self._read_at(offset, length)

    def iter_chunks(self, start: int = 0, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream the object from ``start`` to its end in one pinned GET, ``chunk_size`` bytes at a time.

        Bytes are counted as they arrive, so a consumer that stops early is charged only for what it
        read (the connection is closed when the generator is).
        """
        self._check_open()
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        if start >= self.size:
            return
        response = self._get(f"bytes={start}-")
        body = response["Body"]
        expected = self.size - start
        received = 0
        try:
            while chunk := body.read(chunk_size):
                received += len(chunk)
                self.stats.bytes_fetched += len(chunk)
                yield chunk
        finally:
            body.close()
        if received < expected:
            raise ShortReadError(
                f"{self.key!r}: the body ended at byte {start + received} of {self.size}",
                key=self.key,
                offset=start + received,
                size=self.size,
            )

    # -- internals -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed reader for {self.key!r}")

    def _read_at(self, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        if self._size is None and offset < self.block_size:
            # The first read learns the size from its own Content-Range: no probe request.
            self._load_blocks(0, 0)
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        first, last = offset // self.block_size, (end - 1) // self.block_size
        if last - first + 1 > self.max_blocks:
            # Larger than the whole cache: one direct GET, nothing evicted for it.
            return self._fetch(offset, end - 1)
        self._load_blocks(first, last)
        parts = [self._blocks[index] for index in range(first, last + 1)]
        joined = parts[0] if len(parts) == 1 else b"".join(parts)
        start = offset - first * self.block_size
        return joined[start : start + (end - offset)]

    def _load_blocks(self, first: int, last: int) -> None:
        """Bring blocks ``first..last`` into the cache, one GET per run of missing blocks."""
        index = first
        while index <= last:
            if index in self._blocks:
                self._blocks.move_to_end(index)
                self.stats.cache_hits += 1
                index += 1
                continue
            run_end = index
            while run_end + 1 <= last and run_end + 1 not in self._blocks:
                run_end += 1
            start = index * self.block_size
            stop = (run_end + 1) * self.block_size - 1
            if self._size is not None:
                stop = min(stop, self._size - 1)
            data = self._fetch(start, stop)
            for number in range(index, run_end + 1):
                offset = (number - index) * self.block_size
                self._blocks[number] = data[offset : offset + self.block_size]
            index = run_end + 1
        while len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)
        # The blocks just asked for must survive the trim above; max_blocks >= the run, see _read_at.

    def _fetch(self, start: int, stop: int) -> bytes:
        """Bytes ``start..stop`` inclusive, pinned to the ETag, counted."""
        response = self._get(f"bytes={start}-{stop}")
        body: bytes = response["Body"].read()
        self.stats.bytes_fetched += len(body)
        wanted = max(min(stop, self.size - 1) - start + 1, 0)
        if len(body) < wanted:
            raise ShortReadError(
                f"{self.key!r}: asked for bytes {start}-{stop}, got {len(body)} bytes",
                key=self.key,
                offset=start + len(body),
                size=self.size,
            )
        return body[:wanted]

    def _get(self, byte_range: str) -> dict[str, Any]:
        request: dict[str, Any] = {"Bucket": self.access_point.target, "Key": self.key, "Range": byte_range}
        if self.etag:
            request["IfMatch"] = f'"{self.etag}"'
        if self.version_id:
            request["VersionId"] = self.version_id
        self.stats.requests += 1
        try:
            response: dict[str, Any] = self.access_point._call(
                "GetObject", self.key, lambda: self.access_point.client.get_object(**request)
            )
        except StorageError as error:
            code = str(error.details.get("code", ""))
            if code in {"PreconditionFailed", "412"}:
                raise ObjectChangedError(
                    f"{self.key!r} changed while it was being read (ETag is no longer {self.etag})",
                    key=self.key,
                    etag=self.etag,
                    range=byte_range,
                ) from error
            if code in {"InvalidRange", "416"}:
                # An empty object has no byte 0; anything else is a size that shrank.
                if self._size in (None, 0):
                    self._size = 0
                    return {"Body": io.BytesIO(b"")}
                raise ShortReadError(
                    f"{self.key!r}: range {byte_range} is past the end of the object",
                    key=self.key,
                    range=byte_range,
                ) from error
            raise
        self._remember(response)
        return response

    def _remember(self, response: dict[str, Any]) -> None:
        """Take the size and ETag from the first response; check the ETag of every later one."""
        etag = str(response.get("ETag", "")).strip('"') or None
        if self.etag is None:
            self.etag = etag
        elif etag is not None and etag != self.etag:
            # A server that ignored If-Match still cannot hand us another version's bytes.
            response["Body"].close()
            raise ObjectChangedError(
                f"{self.key!r} changed while it was being read (ETag {etag}, expected {self.etag})",
                key=self.key,
                etag=self.etag,
            )
        if self._size is None:
            match = _CONTENT_RANGE.match(str(response.get("ContentRange", "")))
            if match and match.group(3) != "*":
                self._size = int(match.group(3))
            else:
                self._size = int(response.get("ContentLength", 0))


def open_ranged(
    access_point: S3AccessPoint,
    key: str,
    *,
    etag: str | None = None,
    size: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_blocks: int = DEFAULT_MAX_BLOCKS,
) -> io.BufferedReader:
    """A buffered wrapper around :class:`RangedReader`, for consumers that call ``readline``/``peek``.

    The raw reader (and its :attr:`RangedReader.stats`) is the wrapper's ``.raw``.
    """
    raw = RangedReader(access_point, key, etag=etag, size=size, block_size=block_size, max_blocks=max_blocks)
    return io.BufferedReader(raw, buffer_size=min(block_size, 64 * 1024))
