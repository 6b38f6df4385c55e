"""Classification of AWS service errors into retry-worthy, per-file, and everything else.

AI services (Rekognition, Bedrock, Textract, ...) report throttling and per-file problems as error
codes. Sorting them in one place keeps the rule the same in every step of every use case:
throttling and 5xx raise :class:`TransientServiceError` (retried by Step Functions or the stream),
a per-file refusal (a code in ``per_item_codes``) becomes ``rejected``, a
:class:`FileRejectedError` by default (a FAILED result), and anything else (access denied, a wrong
model id) propagates unchanged because it is a deployment problem that an operator must see.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.errors import PatternError, aws_error_code
from shared.polling.errors import FileRejectedError, TransientServiceError

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
    rejected: type[PatternError] = FileRejectedError,
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
            raise rejected(
                f"{service} {operation} refused this file ({code}): {error}", service=service, code=code
            ) from error
        raise
    except (ConnectionError, ReadTimeoutError) as error:
        raise TransientServiceError(
            f"{service} {operation} could not be reached: {error}", service=service
        ) from error
