"""Per-file permissions: an S3 request on one chosen key answers AccessDenied, as ONTAP can.

An FSx for ONTAP volume checks its own file permissions (NTFS ACLs or UNIX mode bits) behind the
S3 access point, so one file among thousands can refuse a read that IAM allows. moto has no such
layer. :class:`FilePermissions` answers ``AccessDenied`` (HTTP 403) for the (operation, key) pairs
a test denies, through botocore's ``before-call`` event like the AI stand-ins, so the function
code and its error handling are the real ones.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from botocore.awsrequest import AWSResponse

from scripts.localcloud import hooks

logger = logging.getLogger(__name__)

_PARAMS_KEY = "localcloud_file_permissions_params"
OPERATIONS = ("GetObject", "HeadObject", "PutObject")


def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS_KEY] = params


class FilePermissions:
    """Denies chosen S3 operations on chosen keys for every botocore session created while installed."""

    def __init__(self) -> None:
        self._denied: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._handlers: list[tuple[str, Callable[..., Any]]] = []
        self.refusals = 0

    def deny(self, key: str, operations: Iterable[str] = ("GetObject", "HeadObject")) -> None:
        """From now on, ``operations`` on ``key`` (in any bucket or access point) answer AccessDenied."""
        chosen = tuple(operations)
        unknown = sorted(set(chosen) - set(OPERATIONS))
        if unknown:
            raise ValueError(f"cannot deny {unknown}; one of {OPERATIONS}")
        with self._lock:
            self._denied.update((operation, key) for operation in chosen)

    def allow_all(self) -> None:
        with self._lock:
            self._denied.clear()

    def _make_handler(self, operation: str) -> Callable[..., Any]:
        def before_call(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            key = str(context.get(_PARAMS_KEY, {}).get("Key", ""))
            with self._lock:
                denied = (operation, key) in self._denied
                self.refusals += denied
            if not denied:
                return None
            # HeadObject has no body, so S3 gives it no error code beyond the status.
            code = "AccessDenied" if operation != "HeadObject" else "403"
            parsed = {
                "Error": {"Code": code, "Message": "Access Denied"},
                "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": str(uuid.uuid4())},
            }
            return AWSResponse("https://local.file-permissions", 403, {}, None), parsed

        return before_call

    def install(self) -> None:
        self._handlers.extend(hooks.hooks_for("s3", OPERATIONS, _stash_params, self._make_handler))
        hooks.install(self._handlers)

    def uninstall(self) -> None:
        hooks.uninstall(self._handlers)
