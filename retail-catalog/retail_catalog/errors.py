"""Errors of the retail-catalog domain.

Two kinds matter to callers: :class:`ImageRejectedError` is a permanent, per-file failure (the
file is not a usable product image, or a service refused this one image); it becomes a FAILED
result. :class:`TransientServiceError` is worth retrying (throttling, a service hiccup); it is
raised so that Step Functions Retry or the stream's retry policy sees it.
"""

from __future__ import annotations

import logging

from shared.errors import PatternError

logger = logging.getLogger(__name__)


class ImageRejectedError(PatternError):
    """This one file cannot be processed; retrying the same version will not help."""


class TransientServiceError(PatternError):
    """A service call failed in a way that a later retry can fix (throttling, 5xx, timeouts)."""
