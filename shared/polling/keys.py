"""Where a source file's result is written in the output bucket.

The result key is derived from the *full* source key plus the ETag of the version that was
processed, so two files with the same name in different folders never overwrite each other, and a
new version of a file gets a new result key. That second property is what lets the polling path
decide "already processed" from a listing of the output bucket alone, without a database.

Layout (the two namespaces cannot overlap, so the mapping stays one-to-one):

* ``results/by-key/<source key>/<etag>.json`` for every key that fits, which keeps results easy to
  browse next to the folder structure of the volume;
* ``results/by-hash/<sha256 of source key>/<etag>.json`` when the readable form would exceed the
  1,024-byte S3 key limit. The document itself always carries the full source key.
"""

from __future__ import annotations

import hashlib
import logging
import re

from shared.s3ap import MAX_KEY_BYTES, validate_key

logger = logging.getLogger(__name__)

RESULTS_PREFIX = "results/"
BY_KEY_PREFIX = RESULTS_PREFIX + "by-key/"
BY_HASH_PREFIX = RESULTS_PREFIX + "by-hash/"
RESULT_SUFFIX = ".json"
NO_ETAG = "no-etag"

_SAFE_ETAG = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def etag_token(etag: str) -> str:
    """A path-safe token for an ETag: the ETag itself when it is plain, else a hash of it.

    ONTAP does not document what its ETags look like, so anything beyond letters, digits, ``-``
    and ``_`` (quotes, slashes, very long values) is replaced by a stable digest.
    """
    value = (etag or "").strip().strip('"')
    if not value:
        return NO_ETAG
    if _SAFE_ETAG.match(value):
        return value
    return "h-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def output_key(source_key: str, etag: str) -> str:
    """The result key for one version (``etag``) of ``source_key``."""
    validate_key(source_key)
    token = etag_token(etag)
    readable = f"{BY_KEY_PREFIX}{source_key}/{token}{RESULT_SUFFIX}"
    if len(readable.encode("utf-8")) <= MAX_KEY_BYTES:
        return readable
    digest = hashlib.sha256(source_key.encode("utf-8")).hexdigest()
    return f"{BY_HASH_PREFIX}{digest}/{token}{RESULT_SUFFIX}"


def result_prefix(source_prefix: str) -> str:
    """The output-bucket prefix under which results of keys starting with ``source_prefix`` live.

    Keys long enough to be hashed are not under it; :func:`output_key` of such a key is checked
    individually by callers that need to.
    """
    return f"{BY_KEY_PREFIX}{source_prefix}"
