"""Client for an S3 Access Point attached to an FSx for ONTAP volume.

It accepts an access point alias, an access point ARN or a plain bucket name, and passes that value
as ``Bucket`` to every call (the S3 API routes all three). Listing is a generator of pages so that
memory stays flat however many files a volume holds. Errors come back typed: ``AccessDenied``
names both authorization layers, because on ONTAP a correct IAM policy can still be refused by the
file-system identity fixed on the access point.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from shared.clients import aws_client
from shared.errors import (
    AccessDeniedError,
    InvalidKeyError,
    InvalidTargetError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    StorageError,
    aws_error_code,
)

logger = logging.getLogger(__name__)

MAX_KEY_BYTES = 1024
MAX_PAGE_SIZE = 1000
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024

_ARN = re.compile(r"^arn:aws[a-z-]*:s3:[a-z0-9-]+:\d{12}:accesspoint/[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}-ext-s3alias$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

ACCESS_DENIED_HINT = (
    "check both authorization layers: (1) IAM and the access point policy must allow the action on "
    "arn:aws:s3:<region>:<account>:accesspoint/<name> (List) or .../object/* (objects); "
    "(2) the file-system identity (UNIX or WINDOWS user) fixed on the access point must have "
    "permission on the volume path, and a read-only identity blocks every write"
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One listed object. ``(etag, size, last_modified)`` is an opaque version fingerprint."""

    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def fingerprint(self) -> tuple[str, int, str]:
        return (self.etag, self.size, self.last_modified.isoformat())


class LevelPage(NamedTuple):
    """One page of a delimited listing: the sub-prefixes and the objects at that level."""

    prefixes: list[str]
    objects: list[ObjectInfo]


def validate_target(target: str) -> str:
    """Return ``target`` if it is an access point ARN, an alias or a bucket name."""
    if not isinstance(target, str) or not target:
        raise InvalidTargetError("an access point alias, ARN or bucket name is required")
    if target.startswith("arn:"):
        if not _ARN.match(target):
            raise InvalidTargetError(
                f"{target!r} is not an access point ARN (arn:aws:s3:<region>:<account>:accesspoint/<name>)",
                target=target,
            )
        return target
    if target.endswith("-ext-s3alias"):
        if not _ALIAS.match(target):
            raise InvalidTargetError(f"{target!r} is not a valid access point alias", target=target)
        return target
    if not _BUCKET.match(target) or ".." in target:
        raise InvalidTargetError(
            f"{target!r} is neither an access point ARN, an alias ending in -ext-s3alias, nor a bucket name",
            target=target,
        )
    return target


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise :class:`InvalidKeyError`."""
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("an object key must be a non-empty string", key=repr(key))
    if "\x00" in key:
        raise InvalidKeyError("an object key must not contain a NUL byte", key=repr(key))
    size = len(key.encode("utf-8", errors="surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise InvalidKeyError(f"an object key is at most {MAX_KEY_BYTES} bytes, got {size}", key=key[:64])
    if key.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", key):
        raise InvalidKeyError("an object key must be relative, not an absolute path", key=key)
    if any(part == ".." for part in re.split(r"[\\/]", key)):
        raise InvalidKeyError("an object key must not contain a '..' segment", key=key)
    return key


class S3AccessPoint:
    """Typed access to one S3 access point (or, locally, a bucket).

    The boto3 client is created on first use unless one is passed in, which keeps imports free of
    AWS calls and lets tests inject a client.
    """

    def __init__(self, target: str, client: Any | None = None, *, region: str | None = None) -> None:
        self.target = validate_target(target)
        self._client = client
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("s3", self._region)
        return self._client

    def _call(self, operation: str, key: str | None, fn: Callable[[], T]) -> T:
        """Run one S3 call and translate its errors into typed ones."""
        from botocore.exceptions import ClientError

        try:
            return fn()
        except ClientError as error:
            code = aws_error_code(error)
            where = f"{operation} on {self.target}" + (f" key {key!r}" if key else "")
            if code in {"AccessDenied", "403", "AllAccessDisabled"}:
                raise AccessDeniedError(
                    f"access denied: {where}; {ACCESS_DENIED_HINT}", operation=operation, key=key
                ) from error
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise ObjectNotFoundError(f"not found: {where}", operation=operation, key=key) from error
            raise StorageError(f"{where} failed with {code or 'an error'}: {error}", code=code) from error

    # -- listing -------------------------------------------------------------------------------

    def _responses(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """ListObjectsV2 responses for ``request``, one page at a time, following continuation tokens."""
        while True:
            response = self._call("ListObjectsV2", None, lambda: self.client.list_objects_v2(**request))
            yield response
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return
            request.pop("StartAfter", None)
            request["ContinuationToken"] = token

    @staticmethod
    def _page_objects(response: dict[str, Any], wanted: tuple[str, ...]) -> list[ObjectInfo]:
        """The listed objects of one response, without directory markers and filtered by suffix."""
        return [
            ObjectInfo(
                key=item["Key"],
                size=int(item["Size"]),
                etag=str(item.get("ETag", "")).strip('"'),
                last_modified=item["LastModified"],
            )
            for item in response.get("Contents", ())
            if not item["Key"].endswith("/") and (not wanted or item["Key"].lower().endswith(wanted))
        ]

    def iter_pages(
        self,
        prefix: str = "",
        *,
        suffixes: Sequence[str] = (),
        page_size: int = MAX_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Iterator[list[ObjectInfo]]:
        """Yield one list of objects per ListObjectsV2 page, filtered by suffix.

        Only one page is held at a time. Suffixes match case-insensitively. Keys that end in ``/``
        (directory markers) are skipped.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        wanted = tuple(s.lower() for s in suffixes)
        request: dict[str, Any] = {"Bucket": self.target, "Prefix": prefix, "MaxKeys": page_size}
        if start_after:
            request["StartAfter"] = start_after
        for response in self._responses(request):
            yield self._page_objects(response, wanted)

    def iter_objects(self, prefix: str = "", *, suffixes: Sequence[str] = ()) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, one at a time."""
        for page in self.iter_pages(prefix, suffixes=suffixes):
            yield from page

    def iter_level(
        self,
        prefix: str = "",
        *,
        delimiter: str = "/",
        suffixes: Sequence[str] = (),
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[LevelPage]:
        """One directory level below ``prefix``, page by page: its sub-prefixes and its own objects.

        A delimited ListObjectsV2: the objects directly at this level (filtered like
        :meth:`iter_pages`) and the common prefixes one level down, without listing below them.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        wanted = tuple(s.lower() for s in suffixes)
        request: dict[str, Any] = {
            "Bucket": self.target,
            "Prefix": prefix,
            "Delimiter": delimiter,
            "MaxKeys": page_size,
        }
        for response in self._responses(request):
            yield LevelPage(
                prefixes=[str(item["Prefix"]) for item in response.get("CommonPrefixes", ())],
                objects=self._page_objects(response, wanted),
            )

    def list_prefixes(self, prefix: str = "", delimiter: str = "/") -> Iterator[str]:
        """The common prefixes (top-level "directories") directly below ``prefix``."""
        for page in self.iter_level(prefix, delimiter=delimiter):
            yield from page.prefixes

    # -- objects -------------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        response = self._call("HeadObject", key, lambda: self.client.head_object(Bucket=self.target, Key=key))
        return ObjectInfo(
            key=key,
            size=int(response["ContentLength"]),
            etag=str(response.get("ETag", "")).strip('"'),
            last_modified=response["LastModified"],
        )

    def get_bytes(self, key: str, *, if_match: str | None = None, max_bytes: int | None = None) -> bytes:
        """The whole object. ``if_match`` pins the read to the version that was listed.

        ``max_bytes`` refuses an object larger than that (checked from ContentLength before the
        body is read), so one oversized file cannot exhaust a function's memory.
        """
        validate_key(key)
        extra = {"IfMatch": if_match} if if_match else {}
        response = self._call(
            "GetObject", key, lambda: self.client.get_object(Bucket=self.target, Key=key, **extra)
        )
        length = int(response.get("ContentLength", 0))
        if max_bytes is not None and length > max_bytes:
            response["Body"].close()
            raise ObjectTooLargeError(
                f"{key!r} is {length} bytes, more than the {max_bytes} this reader accepts",
                key=key,
                size=length,
                limit=max_bytes,
            )
        body: bytes = response["Body"].read()
        return body

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` inclusive, as in an HTTP Range header."""
        validate_key(key)
        if start < 0 or end < start:
            raise ValueError(f"invalid byte range {start}-{end}")
        response = self._call(
            "GetObject",
            key,
            lambda: self.client.get_object(Bucket=self.target, Key=key, Range=f"bytes={start}-{end}"),
        )
        body: bytes = response["Body"].read()
        return body

    def iter_chunks(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Stream the object in chunks of at most ``chunk_size`` bytes."""
        validate_key(key)
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        response = self._call("GetObject", key, lambda: self.client.get_object(Bucket=self.target, Key=key))
        body = response["Body"]
        try:
            while chunk := body.read(chunk_size):
                yield chunk
        finally:
            body.close()

    def put(self, key: str, body: bytes, *, content_type: str | None = None) -> str:
        """Write one object and return its ETag."""
        validate_key(key)
        extra = {"ContentType": content_type} if content_type else {}
        response = self._call(
            "PutObject", key, lambda: self.client.put_object(Bucket=self.target, Key=key, Body=body, **extra)
        )
        return str(response.get("ETag", "")).strip('"')

    def delete(self, key: str) -> None:
        validate_key(key)
        self._call("DeleteObject", key, lambda: self.client.delete_object(Bucket=self.target, Key=key))

    def upload_multipart(
        self,
        key: str,
        chunks: Iterable[bytes],
        *,
        part_size: int = MIN_PART_SIZE,
        content_type: str | None = None,
    ) -> str:
        """Upload a stream of bytes as a multipart upload; abort the upload if anything fails.

        Chunks are regrouped into parts of ``part_size`` bytes (the last may be smaller), so callers
        can feed chunks of any size. An aborted upload leaves no billed parts behind.
        """
        validate_key(key)
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        extra = {"ContentType": content_type} if content_type else {}
        created = self._call(
            "CreateMultipartUpload",
            key,
            lambda: self.client.create_multipart_upload(Bucket=self.target, Key=key, **extra),
        )
        upload_id = created["UploadId"]
        parts: list[dict[str, Any]] = []
        try:
            for number, part in enumerate(_regroup(chunks, part_size), start=1):
                upload = functools.partial(
                    self.client.upload_part,
                    Bucket=self.target,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=part,
                )
                response = self._call("UploadPart", key, upload)
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
            if not parts:
                parts.append(self._empty_part(key, upload_id))
            done = self._call(
                "CompleteMultipartUpload",
                key,
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.target, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                ),
            )
        except BaseException:
            logger.warning("aborting multipart upload of %s after a failure", key)
            self.client.abort_multipart_upload(Bucket=self.target, Key=key, UploadId=upload_id)
            raise
        return str(done.get("ETag", "")).strip('"')

    def _empty_part(self, key: str, upload_id: str) -> dict[str, Any]:
        response = self._call(
            "UploadPart",
            key,
            lambda: self.client.upload_part(
                Bucket=self.target, Key=key, UploadId=upload_id, PartNumber=1, Body=b""
            ),
        )
        return {"PartNumber": 1, "ETag": response["ETag"]}


def _regroup(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a stream of byte chunks into pieces of exactly ``size`` bytes (the last may be short)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
