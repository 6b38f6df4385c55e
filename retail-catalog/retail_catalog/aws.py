"""Classification of AWS service errors into retry-worthy, per-file, and everything else.

Rekognition and Bedrock report throttling and per-image problems as error codes. Sorting them in
one place keeps the rule the same in every step: throttling and 5xx raise
:class:`TransientServiceError` (retried by Step Functions or the stream), a per-image refusal
becomes :class:`ImageRejectedError` (a FAILED result), and anything else (access denied, a wrong
model id) propagates unchanged because it is a deployment problem that an operator must see.
"""

from __future__ import annotations

import logging
from typing import Any

from retail_catalog.errors import ImageRejectedError, TransientServiceError
from shared.errors import aws_error_code

logger = logging.getLogger(__name__)

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalServerException",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "ServiceQuotaExceededException",
        "RequestTimeout",
        "SlowDown",
    }
)


def call(
    service: str,
    operation: str,
    fn: Any,
    *,
    per_item_codes: frozenset[str] = frozenset(),
    **kwargs: Any,
) -> Any:
    """Call ``fn(**kwargs)`` and translate its ClientError by code (see the module docstring)."""
    from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

    try:
        return fn(**kwargs)
    except ClientError as error:
        code = aws_error_code(error)
        if code in TRANSIENT_CODES:
            raise TransientServiceError(
                f"{service} {operation} throttled or unavailable ({code}); retry later",
                service=service,
                code=code,
            ) from error
        if code in per_item_codes:
            raise ImageRejectedError(
                f"{service} {operation} refused this image ({code}): {error}", service=service, code=code
            ) from error
        raise
    except (ConnectionError, ReadTimeoutError) as error:
        raise TransientServiceError(
            f"{service} {operation} could not be reached: {error}", service=service
        ) from error
