"""Errors of the polling skeleton that every use case's per-file processor raises.

Two kinds matter to callers. :class:`FileRejectedError` is a permanent, per-file failure (the file
is unusable, or a service refused this one file): it becomes a FAILED result, so the version is not
tried again until the file changes. :class:`TransientServiceError` is worth retrying (throttling, a
service hiccup); it is raised so that the state's Retry policy (or the stream's) sees it by name.
"""

from __future__ import annotations

import logging

from shared.errors import PatternError

logger = logging.getLogger(__name__)


class FileRejectedError(PatternError):
    """This one file cannot be processed; retrying the same version will not help."""


class TransientServiceError(PatternError):
    """A service call failed in a way that a later retry can fix (throttling, 5xx, timeouts)."""
