"""A tracing backend that is not X-Ray, for the seam tests: it records span names and annotations."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

SPANS: list[dict[str, Any]] = []


class _Span:
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def put_annotation(self, key: str, value: Any) -> None:
        self.record["annotations"][key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.record["metadata"][key] = value


class FakeTracer:
    @contextlib.contextmanager
    def subsegment(self, name: str) -> Iterator[_Span]:
        record: dict[str, Any] = {"name": name, "annotations": {}, "metadata": {}, "closed": False}
        SPANS.append(record)
        try:
            yield _Span(record)
        finally:
            record["closed"] = True


def make() -> FakeTracer:
    return FakeTracer()
