"""JSON logs at INFO with correlation keys, set up once for every handler (``shared.observability``)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from shared import observability
from shared.errors import ConfigError


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A fresh logger wired like the root logger on Lambda: one handler that the setup reformats."""
    target = logging.getLogger("tests.json-logs")
    target.propagate = False
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    target.addHandler(handler)
    yield sink
    target.removeHandler(handler)


def _lines(sink: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.getvalue().splitlines() if line]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "INFO"),
        ({"POWERTOOLS_LOG_LEVEL": "debug"}, "DEBUG"),
        ({"AWS_LAMBDA_LOG_LEVEL": "WARN", "POWERTOOLS_LOG_LEVEL": "DEBUG"}, "WARNING"),
    ],
)
def test_level_defaults_to_info_and_honours_lambda_first(environ: dict[str, str], expected: str) -> None:
    assert observability.log_level(environ) == expected


def test_unknown_level_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="POWERTOOLS_LOG_LEVEL"):
        observability.log_level({"POWERTOOLS_LOG_LEVEL": "LOUD"})


def test_info_reaches_the_log_as_json_with_correlation_keys(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    monkeypatch.setenv("USE_CASE", "retail-catalog")
    target = logging.getLogger("tests.json-logs")
    target.setLevel(logging.WARNING)  # what the root logger defaults to
    observability.configure_logging(target)
    with observability.log_keys(run_id="run-1", file_key="a/b.jpg"):
        target.info("tagged %d labels", 3)
    target.info("after the block")
    first, second = _lines(stream)
    assert first["level"] == "INFO"
    assert first["message"] == "tagged 3 labels"
    assert first["service"] == "retail-catalog"
    assert (first["run_id"], first["file_key"]) == ("run-1", "a/b.jpg")
    assert "run_id" not in second and "file_key" not in second


def test_the_handler_wrapper_adds_request_id_and_event_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    @observability.trace_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> None:
        from aws_lambda_powertools.logging.formatter import THREAD_LOCAL_KEYS

        seen.update(THREAD_LOCAL_KEYS.get())

    monkeypatch.setattr(observability, "_stdout_sink", lambda line: None)
    event = {"key": "shelf/1.jpg", "discovery": {"run_id": "r-7"}, "image": {"bytes": "never logged"}}
    handler(event, SimpleNamespace(aws_request_id="req-42"))
    assert seen["request_id"] == "req-42"
    assert (seen["run_id"], seen["file_key"]) == ("r-7", "shelf/1.jpg")
    assert "image" not in seen
    assert logging.getLogger().getEffectiveLevel() <= logging.INFO


def test_event_log_keys_take_identifiers_only() -> None:
    assert observability.event_log_keys({"key": "k", "body": "x", "execution": {"name": "e1"}}) == {
        "file_key": "k",
        "execution": "e1",
    }
    assert observability.event_log_keys(["not", "a", "mapping"]) == {}
