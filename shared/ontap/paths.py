"""From an S3 object key to the file path ONTAP's file-security endpoints take, and back.

An S3 access point on FSx for ONTAP serves one volume: the object key ``a/b.txt`` is the file
``a/b.txt`` under the volume's junction path, so ONTAP names it ``<junction>/a/b.txt`` (for a
volume mounted at ``/finance``, ``/finance/a/b.txt``).

``GET /api/protocols/file-security/permissions/{svm.uuid}/{path}`` takes that whole path as ONE
URL path segment: every ``/`` (the leading one included) is sent as ``%2F``, as are the space,
``%``, ``#``, ``?``, ``\\`` and every non-ASCII character (as UTF-8 bytes). Left unencoded, ``#``
and ``?`` would end the path early and a raw ``/`` would split it into more segments than the
route has.

Keys that cannot name a file are refused before any request: a ``..`` segment (it would name a
file outside the key's own path, possibly outside the junction), ``.`` and empty segments, a
backslash (a path separator to SMB clients), NUL, and lone surrogates.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote

from shared.errors import InvalidKeyError
from shared.ontap.errors import OntapLookupError, PathEscapeError
from shared.s3ap import validate_key

logger = logging.getLogger(__name__)


def validate_junction(junction_path: str) -> str:
    """Return ``junction_path`` if it is an absolute, normalised ONTAP junction path."""
    if not isinstance(junction_path, str) or not junction_path.startswith("/"):
        raise OntapLookupError("a junction path is absolute (starts with '/')", junction_path=junction_path)
    if junction_path != "/" and (junction_path.endswith("/") or "//" in junction_path):
        raise OntapLookupError("a junction path has no empty segment", junction_path=junction_path)
    if any(part in (".", "..") for part in junction_path.split("/")):
        raise OntapLookupError("a junction path has no '.' or '..' segment", junction_path=junction_path)
    return junction_path


def key_segments(key: str) -> list[str]:
    """The path segments of ``key``; a trailing ``/`` (an S3 folder marker) adds no segment."""
    if isinstance(key, str) and any(part == ".." for part in key.split("/")):
        raise PathEscapeError(
            "an object key with a '..' segment names a file outside its own path", key=key[:256]
        )
    validate_key(key)
    if "\\" in key:
        raise InvalidKeyError("an object key for ONTAP has no backslash (an SMB path separator)", key=key)
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidKeyError("an object key is valid UTF-8 (no lone surrogate)", key=repr(key)) from error
    parts = key[:-1].split("/") if key.endswith("/") else key.split("/")
    for part in parts:
        if part in ("", "."):
            raise InvalidKeyError("an object key for ONTAP has no empty or '.' segment", key=key)
    return parts


def ontap_path(junction_path: str, key: str) -> str:
    """The ONTAP file path of object ``key`` on a volume mounted at ``junction_path``."""
    base = validate_junction(junction_path).rstrip("/")
    return base + "/" + "/".join(key_segments(key))


def key_for_path(junction_path: str, path: str) -> str:
    """The object key of ONTAP file ``path`` (the inverse of :func:`ontap_path`)."""
    base = validate_junction(junction_path).rstrip("/") + "/"
    if not path.startswith(base) or path == base:
        raise PathEscapeError("the path is not below the volume's junction path", path=path, junction=base)
    key = path[len(base) :]
    key_segments(key)
    return key


def encode_path(path: str) -> str:
    """``path`` as the single URL path segment the file-security endpoints expect."""
    return quote(path, safe="", encoding="utf-8", errors="strict")


def decode_path(segment: str) -> str:
    """The file path a URL path segment made by :func:`encode_path` stands for."""
    return unquote(segment, encoding="utf-8", errors="strict")
