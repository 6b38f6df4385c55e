"""The tracing seam: another backend replaces X-Ray by configuration, with no handler change."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shared import observability
from shared.errors import ConfigError
from tests.handlers import load_handler
from tests.shared import fake_tracing


def test_a_real_handler_traces_into_the_configured_backend(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_tracing.SPANS.clear()
    monkeypatch.setenv("TRACING_BACKEND", "tests.shared.fake_tracing:make")
    monkeypatch.setenv("USE_CASE", "retail-catalog")
    observability.set_tracer(None)
    producer = load_handler("retail-catalog/functions/stream_producer")
    # The handler module's own copy of shared.observability chooses the backend on first use.
    with pytest.raises(Exception, match="ACCESS_POINT"):
        producer.handler({}, SimpleNamespace(aws_request_id="r-1"))
    names = [span["name"] for span in fake_tracing.SPANS]
    assert names == ["handler"]
    assert fake_tracing.SPANS[0]["annotations"]["use_case"] == "retail-catalog"
    assert fake_tracing.SPANS[0]["closed"]


def test_none_turns_tracing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_BACKEND", "none")
    observability.set_tracer(None)
    assert isinstance(observability.get_tracer(), observability.NoopTracer)


def test_a_malformed_backend_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING_BACKEND", "opentelemetry")
    observability.set_tracer(None)
    with pytest.raises(ConfigError, match="TRACING_BACKEND"):
        observability.get_tracer()
