"""Errors of the retail-catalog domain.

:class:`ImageRejectedError` is the retail form of the skeleton's per-file failure: the file is not
a usable product image, or a service refused this one image. It becomes a FAILED result.
:class:`TransientServiceError` (retry later) is the skeleton's own, re-exported here for callers of
the retail domain.
"""

from __future__ import annotations

import logging

from shared.polling.errors import FileRejectedError, TransientServiceError

logger = logging.getLogger(__name__)

__all__ = ["ImageRejectedError", "TransientServiceError"]


class ImageRejectedError(FileRejectedError):
    """This one image cannot be processed; retrying the same version will not help."""
