"""Installing and removing the botocore hooks through which the local cloud's stand-ins answer calls.

A stand-in answers an operation in a ``before-call`` hook, so no request leaves the process, and
keeps the call's parameters from a ``before-parameter-build`` hook for it. botocore copies
``BUILTIN_HANDLERS`` into every session it creates (moto registers itself the same way), so the
hooks reach every client made while they are installed; the default boto3 session, created
earlier, gets them registered directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import botocore.handlers

logger = logging.getLogger(__name__)

Hook = tuple[str, Callable[..., Any]]


def hooks_for(
    service: str,
    operations: Iterable[str],
    stash_params: Callable[..., None],
    make_handler: Callable[[str], Callable[..., Any]],
) -> list[Hook]:
    """The two hooks of each operation: keep its parameters, then answer it.

    ``service`` prefixes each operation name (``s3`` and ``GetObject``); an empty ``service`` takes
    the names as ``<service>.<Operation>`` already. ``make_handler`` gets the name as given.
    """
    hooks: list[Hook] = []
    for operation in operations:
        event = f"{service}.{operation}" if service else operation
        hooks.append((f"before-parameter-build.{event}", stash_params))
        hooks.append((f"before-call.{event}", make_handler(operation)))
    return hooks


def install(hooks: list[Hook]) -> None:
    import boto3

    botocore.handlers.BUILTIN_HANDLERS.extend(hooks)
    if boto3.DEFAULT_SESSION is not None:
        for event, handler in hooks:
            boto3.DEFAULT_SESSION.events.register(event, handler)


def uninstall(hooks: list[Hook]) -> None:
    import boto3

    for event, handler in hooks:
        if (event, handler) in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.remove((event, handler))
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION.events.unregister(event, handler)
    hooks.clear()
