"""AWS clients for handlers: one botocore ``Config``, and one client per service per cold start.

Creating a client costs a few milliseconds of endpoint and model loading, so handlers reuse one for
the life of the execution environment. Every client gets the same :func:`client_config`: explicit
connect and read timeouts (botocore's defaults are 60 s each, longer than most of our functions
live) and the ``standard`` retry mode, whose quota-based retries back off on throttling and 5xx.

The cache lives in this module, so it is per process on Lambda and per loaded function copy in
the embedded local cloud, which installs its AI stand-ins on botocore before any function runs.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
# Bedrock Converse on a large image can take tens of seconds before the first byte.
READ_TIMEOUT_SECONDS = 60
# The first call included, as the standard retry mode counts by default.
TOTAL_MAX_ATTEMPTS = 3


@functools.cache
def client_config() -> Config:
    """The one botocore ``Config`` of every client (built on first use: importing stays cheap)."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
    )


def aws_client(service: str, region: str | None = None) -> Any:
    """The process's client for ``service`` (and ``region``; default: the function's own)."""
    return _client(service, region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


@functools.cache
def _client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region, config=client_config())


class LazyClient:
    """A ``client`` attribute: the client given to the instance (``self._client``), else the process's.

    Stores take an optional client so tests can hand them a stub; on first use without one they
    take :func:`aws_client`, so importing and constructing them stays free of AWS work.
    """

    def __init__(self, service: str) -> None:
        self.service = service

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        if instance._client is None:
            instance._client = aws_client(self.service)
        return instance._client


def reset() -> None:
    """Forget every cached client (for tests that switch between mocked accounts)."""
    _client.cache_clear()
