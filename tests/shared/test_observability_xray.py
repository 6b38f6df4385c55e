"""X-Ray tracing through ``shared.observability``: real subsegments with the SDK, a no-op without it.

With aws-xray-sdk installed and ``ENABLE_XRAY`` on, ``xray_subsegment`` and ``trace_lambda_handler``
must create subsegments with their annotations inside the open segment (Lambda opens the facade
segment; here the test opens one). With the SDK absent, or ``ENABLE_XRAY=false``, nothing is
recorded and nothing fails.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aws_xray_sdk.core import xray_recorder

from shared import observability
from shared.observability import NoopTracer, XRayTracer, stats, trace_lambda_handler, xray_subsegment


class _Captured:
    """An emitter that keeps finished segments instead of sending them to a daemon over UDP."""

    def __init__(self) -> None:
        self.entities: list[Any] = []

    def send_entity(self, entity: Any) -> None:
        self.entities.append(entity)

    def set_daemon_address(self, address: str | None) -> None:
        return None


@pytest.fixture
def segment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An open, sampled segment on the global recorder, as Lambda's facade segment would be."""
    monkeypatch.setenv("ENABLE_XRAY", "true")
    previous = xray_recorder.emitter
    captured = _Captured()
    xray_recorder.configure(emitter=captured)
    observability.set_tracer(None)
    opened = xray_recorder.begin_segment("test-invocation", sampling=1)
    try:
        yield opened
    finally:
        if xray_recorder.current_segment() is opened:
            xray_recorder.end_segment()
        xray_recorder.configure(emitter=previous)


def _names(entity: Any) -> list[str]:
    return [sub.name for sub in entity.subsegments]


def test_subsegments_are_recorded_with_annotations(segment: Any) -> None:
    assert isinstance(observability.get_tracer(), XRayTracer)
    with xray_subsegment("s3ap_list", {"prefix": "images/", "bad key!": 3}, {"page": 1}):
        pass

    @xray_subsegment("decorated", {"step": "tagging"})
    def work() -> int:
        return 42

    assert work() == 42
    assert _names(segment) == ["s3ap_list", "decorated"]
    listed, decorated = segment.subsegments
    assert listed.annotations == {"prefix": "images/", "bad_key_": 3}
    assert listed.metadata["default"] == {"page": 1}
    assert decorated.annotations == {"step": "tagging"}
    assert listed.end_time and decorated.end_time


def test_nested_subsegments_nest(segment: Any) -> None:
    with xray_subsegment("outer"), xray_subsegment("inner"):
        pass
    (outer,) = segment.subsegments
    assert [s.name for s in outer.subsegments] == ["inner"]


def test_an_exception_is_recorded_on_the_subsegment_and_still_raised(segment: Any) -> None:
    with pytest.raises(ValueError, match="broken"), xray_subsegment("failing"):
        raise ValueError("broken")
    (failing,) = segment.subsegments
    assert failing.fault or failing.error
    assert failing.cause["exceptions"][0].type == "ValueError"


def test_trace_lambda_handler_wraps_the_invocation_in_a_subsegment(
    segment: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("USE_CASE", "retail-catalog")

    @trace_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> str:
        with xray_subsegment("inner_step"):
            stats().processed(files=1)
        return "ok"

    assert handler({}, None) == "ok"
    (wrapper,) = segment.subsegments
    assert wrapper.name == "handler"
    assert wrapper.annotations["use_case"] == "retail-catalog"
    assert "cold_start" in wrapper.annotations
    assert [s.name for s in wrapper.subsegments] == ["inner_step"]
    assert '"FilesProcessed":1' in capsys.readouterr().out.replace(" ", "")


def test_disabled_tracing_records_nothing_even_with_the_sdk(
    segment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENABLE_XRAY", "false")
    observability.set_tracer(None)
    assert isinstance(observability.get_tracer(), NoopTracer)
    with xray_subsegment("ignored", {"k": "v"}) as span:
        span.put_annotation("more", 1)
    assert segment.subsegments == []


def test_absent_sdk_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENABLE_XRAY", "true")
    # A None entry in sys.modules makes the import raise ImportError, as if the package were missing.
    monkeypatch.setitem(sys.modules, "aws_xray_sdk", None)
    monkeypatch.setitem(sys.modules, "aws_xray_sdk.core", None)
    observability.set_tracer(None)
    assert isinstance(observability.get_tracer(), NoopTracer)

    @xray_subsegment("decorated", {"a": 1})
    def work() -> str:
        return "done"

    with xray_subsegment("block", {"a": 1}, {"m": [1, 2]}) as span:
        span.put_annotation("b", 2)
        span.put_metadata("c", 3)
    assert work() == "done"

    @trace_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> int:
        return 7

    assert handler({}, None) == 7


def test_outside_lambda_without_a_segment_nothing_is_recorded_or_warned(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The local cloud and tests have the SDK but no facade segment: stay silent, patch nothing."""
    import botocore.client

    monkeypatch.setenv("ENABLE_XRAY", "true")
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    original = botocore.client.BaseClient._make_api_call
    observability.set_tracer(None)
    assert isinstance(observability.get_tracer(), XRayTracer)
    assert xray_recorder.current_segment() is None
    with caplog.at_level("WARNING"), xray_subsegment("no_segment", {"k": "v"}) as span:
        span.put_annotation("more", 1)
    assert caplog.records == []
    assert botocore.client.BaseClient._make_api_call is original
