"""Tests for EMF metrics, the tracer seam and the handler wrapper."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import observability
from shared.errors import MetricsError
from shared.observability import (
    HANDLER_METRICS,
    MAX_EVENT_BYTES,
    NAMESPACE,
    EmfMetrics,
    NoopTracer,
    stats,
    trace_lambda_handler,
    xray_subsegment,
)

DIMS = {"UseCase": "retail-catalog", "FunctionName": "stack-discovery", "Environment": "prod"}


def _collect() -> tuple[list[dict[str, Any]], Any]:
    lines: list[dict[str, Any]] = []
    return lines, lambda line: lines.append(json.loads(line))


def _values(documents: list[dict[str, Any]], name: str) -> list[float]:
    out: list[float] = []
    for doc in documents:
        if name in doc:
            value = doc[name]
            out.extend(value if isinstance(value, list) else [value])
    return out


def _assert_valid_emf(doc: dict[str, Any]) -> None:
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int)
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert len(directive["Metrics"]) <= 100
    for dimension_set in directive["Dimensions"]:
        assert len(dimension_set) <= 30
        assert all(isinstance(doc[d], str) for d in dimension_set)
    for metric in directive["Metrics"]:
        value = doc[metric["Name"]]
        assert len(value) <= 100 if isinstance(value, list) else math.isfinite(value)
    assert len(json.dumps(doc, separators=(",", ":"))) <= MAX_EVENT_BYTES


METRIC_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789._-", min_size=1, max_size=30)
VALUES = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(METRIC_NAMES, VALUES), min_size=1, max_size=400))
def test_emf_round_trip_keeps_every_value_within_limits(puts: list[tuple[str, float]]) -> None:
    lines, sink = _collect()
    metrics = EmfMetrics(DIMS, sink=sink)
    for name, value in puts:
        metrics.put_metric(name, value, "Count")
    metrics.flush()
    for doc in lines:
        _assert_valid_emf(doc)
        assert {k: doc[k] for k in DIMS} == DIMS
    for name in {n for n, _ in puts}:
        assert sorted(_values(lines, name)) == sorted(v for n, v in puts if n == name)


def test_more_than_100_metrics_flushes_into_a_second_document() -> None:
    lines, sink = _collect()
    metrics = EmfMetrics(DIMS, sink=sink)
    for i in range(150):
        metrics.put_metric(f"M{i}", i)
    metrics.flush()
    assert [len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in lines] == [100, 50]


def test_more_than_100_values_of_one_metric_flushes() -> None:
    lines, sink = _collect()
    metrics = EmfMetrics(DIMS, sink=sink)
    for i in range(250):
        metrics.put_metric("Latency", i, "Milliseconds")
    metrics.flush()
    assert [len(d["Latency"]) for d in lines] == [100, 100, 50]


def test_oversized_document_is_split() -> None:
    lines, sink = _collect()
    metrics = EmfMetrics(DIMS, sink=sink)
    long = "x" * 200
    for i in range(100):
        for v in range(100):
            metrics.put_metric(f"{long}{i:03d}", -1.2345678901234567e-300 * (v + 1))
    metrics.flush()
    assert len(lines) >= 2
    for doc in lines:
        _assert_valid_emf(doc)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"namespace": "AWS/Lambda"}, "reserved"),
        ({"namespace": ""}, "invalid namespace"),
        ({"dimensions": {"UseCase": "x", "Environment": "prod"}}, "FunctionName"),
        ({"dimensions": {**DIMS, **{f"D{i}": "v" for i in range(28)}}}, "at most 30"),
        ({"dimensions": {**DIMS, "Environment": ""}}, "Environment"),
    ],
)
def test_invalid_namespace_or_dimensions_are_refused(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"dimensions": DIMS, **kwargs}
    with pytest.raises(MetricsError, match=message):
        EmfMetrics(arguments.pop("dimensions"), **arguments)


@pytest.mark.parametrize(
    ("name", "value", "unit", "message"),
    [
        ("Files", 1, "Things", "not a CloudWatch unit"),
        ("Files", math.nan, "Count", "finite"),
        ("Files", True, "Count", "finite"),
        ("", 1, "Count", "invalid metric name"),
        ("UseCase", 1, "Count", "clashes"),
    ],
)
def test_invalid_metrics_are_refused(name: str, value: Any, unit: str, message: str) -> None:
    with pytest.raises(MetricsError, match=message):
        EmfMetrics(DIMS, sink=lambda _: None).put_metric(name, value, unit)


def test_unit_cannot_change_within_a_document() -> None:
    metrics = EmfMetrics(DIMS, sink=lambda _: None)
    metrics.put_metric("Size", 1, "Bytes")
    with pytest.raises(MetricsError, match="unit"):
        metrics.put_metric("Size", 1, "Count")


class RecordingTracer:
    """A tracer that records what would reach X-Ray."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []

    def subsegment(self, name: str) -> Any:
        import contextlib

        tracer = self

        @contextlib.contextmanager
        def span() -> Any:
            record: dict[str, Any] = {"name": name, "annotations": {}, "metadata": {}}

            class Span:
                def put_annotation(self, key: str, value: Any) -> None:
                    record["annotations"][key] = value

                def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
                    record["metadata"][key] = value

            yield Span()
            tracer.spans.append(record)

        return span()


def test_subsegment_works_as_context_manager_and_decorator() -> None:
    tracer = RecordingTracer()
    observability.set_tracer(tracer)

    @xray_subsegment("decorated", {"use_case": "retail-catalog"})
    def work(x: int) -> int:
        return x * 2

    assert work(21) == 42
    with xray_subsegment("block", {"bad key!": 1}, {"detail": [1, 2]}):
        pass
    assert tracer.spans == [
        {"name": "decorated", "annotations": {"use_case": "retail-catalog"}, "metadata": {}},
        {"name": "block", "annotations": {"bad_key_": 1}, "metadata": {"detail": [1, 2]}},
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.text(min_size=1, max_size=50),
    st.dictionaries(st.text(max_size=20), st.one_of(st.integers(), st.text(), st.booleans()), max_size=5),
    st.integers(),
)
def test_subsegment_is_a_no_op_when_tracing_is_disabled(
    name: str, annotations: dict[str, Any], x: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENABLE_XRAY", "false")
        observability.set_tracer(None)

        @xray_subsegment(name, annotations)
        def identity(value: int) -> int:
            return value

        assert identity(x) == x
        with xray_subsegment(name, annotations) as span:
            span.put_annotation("k", 1)
        assert isinstance(observability.get_tracer(), NoopTracer)


def test_trace_lambda_handler_emits_the_standard_metrics(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("USE_CASE", "retail-catalog")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-discovery")
    monkeypatch.setenv("ENABLE_XRAY", "false")

    @trace_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        stats().processed(files=3, bytes_=300)
        stats().failed()
        return {"ok": True}

    assert handler({}, None) == {"ok": True}
    handler({}, None)
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(docs) == 2
    first, second = docs
    names = {m["Name"]: m["Unit"] for m in first["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == dict(HANDLER_METRICS)
    assert first["FilesProcessed"] == 3 and first["BytesProcessed"] == 300 and first["ProcessingErrors"] == 1
    assert first["FunctionName"] == "stack-discovery" and first["ProcessingDuration"] >= 0
    assert (first["ColdStart"], second["ColdStart"]) in {(1, 0), (0, 0)}


def test_trace_lambda_handler_records_the_error_and_reraises(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("USE_CASE", "retail-catalog")
    monkeypatch.setenv("ENABLE_XRAY", "false")

    @trace_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        handler({}, None)
    doc = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert doc["ProcessingErrors"] == 1 and doc["FilesProcessed"] == 0
