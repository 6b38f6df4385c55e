"""Typed errors that carry a reason.

A handler that fails raises one of these so that Lambda, Step Functions Retry/Catch and the error
metrics all see the failure. A deliberate per-item failure is reported with :func:`failed_result`
instead, which always says why.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

FAILED = "FAILED"
SUCCEEDED = "SUCCEEDED"
SKIPPED = "SKIPPED"


class PatternError(Exception):
    """Base class for every error this project raises on purpose."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description, used in FAILED results and dead-letter items."""
        return {"error": type(self).__name__, "reason": self.reason, **self.details}


class ConfigError(PatternError):
    """An environment variable is missing or invalid."""


class InvalidKeyError(PatternError, ValueError):
    """An object key is unsafe or malformed."""


class InvalidTargetError(PatternError, ValueError):
    """An access point alias, ARN or bucket name is malformed."""


class AccessDeniedError(PatternError):
    """The access point refused the request."""


class ObjectNotFoundError(PatternError):
    """The object does not exist (or vanished between listing and reading)."""


class StorageError(PatternError):
    """An S3 access point call failed for a reason other than access or absence."""


class ObjectTooLargeError(StorageError):
    """The object is larger than the caller is willing to read into memory."""


class MetricsError(PatternError, ValueError):
    """An EMF document would break a CloudWatch limit or rule."""


def failed_result(reason: str, **fields: Any) -> dict[str, Any]:
    """The structured result of a per-item failure that was handled on purpose."""
    if not reason:
        raise ValueError("a FAILED result needs a reason")
    return {**fields, "status": FAILED, "reason": reason}


def error_result(error: PatternError, **fields: Any) -> dict[str, Any]:
    """A FAILED result built from a typed error, keeping its details."""
    return failed_result(error.reason, error=type(error).__name__, **{**error.details, **fields})


def aws_error_code(error: BaseException) -> str:
    """The service error code of a botocore ``ClientError`` ("" for any other exception).

    Read from the response rather than by type so that callers need not import botocore.
    """
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
