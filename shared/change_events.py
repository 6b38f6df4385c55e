"""Change events and object fingerprints: the versioned JSON the producer emits and the consumer reads.

Kept apart from :mod:`shared.changes` (the merge-diff, manifests and the emit loop) so that the
stream consumer, which only decodes events, does not compile the whole change-detection engine
on a cold start. :mod:`shared.changes` re-exports every name here.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from shared.errors import InvalidKeyError, PatternError
from shared.s3ap import ObjectInfo, validate_key

logger = logging.getLogger(__name__)

EVENT_VERSION = 1
EVENT_TYPES = ("created", "modified", "deleted")

# A change event nests two levels deep; anything far deeper is hostile, and refusing it before
# parsing keeps the recursive JSON decoder away from Python's recursion limit.
MAX_JSON_DEPTH = 16
# DynamoDB numbers hold 38 significant digits; a longer integer cannot be stored or compared.
MAX_INT_DIGITS = 38
_UTF8_BOM = b"\xef\xbb\xbf"
# A JSON string (with its escapes) or a bracket: brackets inside strings do not nest.
_DEPTH_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class MalformedEventError(PatternError, ValueError):
    """A change event is not valid version-1 JSON with every required field."""


class Fingerprint(NamedTuple):
    """An opaque version of one object: ETag, size and LastModified, compared as a whole.

    A named tuple, not a dataclass: the merge builds and compares one per listed key, and tuple
    construction and equality run in C.
    """

    etag: str
    size: int
    last_modified: str

    @classmethod
    def of(cls, obj: ObjectInfo) -> Fingerprint:
        return cls(obj.etag, obj.size, obj.last_modified.isoformat())

    def to_dict(self) -> dict[str, Any]:
        return {"etag": self.etag, "size": self.size, "last_modified": self.last_modified}

    def to_list(self) -> list[Any]:
        return [self.etag, self.size, self.last_modified]

    @classmethod
    def from_dict(cls, data: Any) -> Fingerprint:
        if not isinstance(data, dict):
            raise MalformedEventError("fingerprint must be an object with etag, size and last_modified")
        etag, size, last_modified = data.get("etag"), data.get("size"), data.get("last_modified")
        if not isinstance(etag, str):
            raise MalformedEventError("fingerprint.etag must be a string")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise MalformedEventError("fingerprint.size must be a non-negative integer")
        if not isinstance(last_modified, str) or not last_modified:
            raise MalformedEventError("fingerprint.last_modified must be a non-empty string")
        return cls(etag, size, last_modified)


def utc_stamp(moment: datetime | None = None) -> str:
    """A fixed-width UTC timestamp whose string order is its time order (used in conditions)."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_stamp(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"{name} must be an ISO 8601 timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise MalformedEventError(f"{name} {value!r} is not an ISO 8601 timestamp") from error
    if moment.tzinfo is None:
        raise MalformedEventError(f"{name} {value!r} has no time zone")
    return utc_stamp(moment)


@dataclass(frozen=True)
class ChangeEvent:
    """One versioned change event, as written to the stream.

    ``detected_at`` orders versions of one key: a later producer run has a later stamp, so the
    consumer can refuse an event older than the state it already holds.
    """

    key: str
    event_type: str
    fingerprint: Fingerprint
    detected_at: str
    run_id: str
    version: int = EVENT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "key": self.key,
            "event_type": self.event_type,
            "fingerprint": self.fingerprint.to_dict(),
            "detected_at": self.detected_at,
            "run_id": self.run_id,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> ChangeEvent:
        """Validate strictly; every problem raises :class:`MalformedEventError` naming the field."""
        if not isinstance(data, dict):
            raise MalformedEventError("a change event must be a JSON object")
        version = data.get("version")
        if version != EVENT_VERSION or isinstance(version, bool):
            raise MalformedEventError(f"unsupported event version {version!r}; expected {EVENT_VERSION}")
        for name in ("key", "event_type", "fingerprint", "detected_at", "run_id"):
            if name not in data:
                raise MalformedEventError(f"missing field {name!r}")
        key = data["key"]
        try:
            validate_key(key)
        except InvalidKeyError as error:
            raise MalformedEventError(f"unsafe key: {error.reason}", key=repr(key)[:200]) from error
        event_type = data["event_type"]
        if event_type not in EVENT_TYPES:
            raise MalformedEventError(f"unknown event_type {event_type!r}; expected one of {EVENT_TYPES}")
        run_id = data["run_id"]
        if not isinstance(run_id, str) or not run_id:
            raise MalformedEventError("run_id must be a non-empty string")
        return cls(
            key=key,
            event_type=event_type,
            fingerprint=Fingerprint.from_dict(data["fingerprint"]),
            detected_at=_parse_stamp(data["detected_at"], "detected_at"),
            run_id=run_id,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ChangeEvent:
        """Parse and validate one event; every hostile input raises :class:`MalformedEventError`."""
        return cls.from_dict(strict_json(text))


def _check_depth(text: str, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit``, without recursion (one pass over the tokens)."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than the number of openers
    depth = 0
    for match in _DEPTH_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise MalformedEventError(f"JSON nested deeper than {limit} levels")
        elif token in "]}":
            depth -= 1


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise MalformedEventError(
            f"integer with {len(text.lstrip('-'))} digits overflows ({MAX_INT_DIGITS} at most)"
        )
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise MalformedEventError(f"number {text[:40]} overflows a double")
    return value


def _constant(name: str) -> Any:
    raise MalformedEventError(f"{name} is not a JSON number")


def _check_strings(data: Any) -> None:
    """Refuse lone surrogates anywhere (JSON escapes allow them; UTF-8 and AWS APIs do not)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as error:
                raise MalformedEventError(f"string {item[:40]!r} holds a lone surrogate") from error


def strict_json(payload: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode JSON as the event contract says: UTF-8 without a BOM, bounded depth, finite numbers.

    ``json.loads`` alone would guess UTF-16 or skip a BOM, recurse until Python's limit on deep
    nesting, accept ``NaN`` and ``Infinity`` and parse ``1e999`` as infinity. Each of those is
    refused here with :class:`MalformedEventError` naming what is wrong.
    """
    if isinstance(payload, bytes | bytearray):
        if payload.startswith(_UTF8_BOM):
            raise MalformedEventError(
                "payload starts with a UTF-8 byte order mark; the contract is plain UTF-8"
            )
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedEventError(f"payload is not UTF-8: {error}") from error
    else:
        text = payload
        if text.startswith("\ufeff"):
            raise MalformedEventError("payload starts with a byte order mark; the contract is plain UTF-8")
    _check_depth(text, max_depth)
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except (json.JSONDecodeError, ValueError) as error:
        if isinstance(error, MalformedEventError):
            raise
        raise MalformedEventError(f"not valid JSON: {error}") from error
    _check_strings(data)
    return data
