"""The metrics registry says exactly what the code emits, and what AWS documents.

The EMF half is verified against the code itself: a handler wrapped by ``trace_lambda_handler`` is
run and its EMF output compared with the registry, and the source scan that finds function-specific
metrics is checked on modules written for the purpose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts import catalog, metrics_registry
from scripts.metrics_registry import EMF_DIMENSIONS, resolve, scan_custom_metrics
from shared.errors import MetricsError
from shared.observability import HANDLER_METRICS, NAMESPACE, stats, trace_lambda_handler

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_UC = catalog.UseCase(9, "obs-uc", "Test", str(ROOT / "tests" / "fixtures" / "obs-uc"), "Fixture.")


def _emf_documents(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_registry_matches_what_the_handler_wrapper_emits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("USE_CASE", "retail-catalog")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "rc-stack-discovery")
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("ENABLE_XRAY", "false")

    @trace_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> None:
        stats().processed(files=3, bytes_=10)

    handler({}, None)
    (document,) = _emf_documents(capsys.readouterr().out)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert [frozenset(d) for d in directive["Dimensions"]] == [EMF_DIMENSIONS]
    emitted = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    registered = {
        spec.name: spec.unit
        for spec in metrics_registry.emf_metrics([])
        if spec.source == "shared.observability.HANDLER_METRICS"
    }
    assert emitted == registered == dict(HANDLER_METRICS)
    assert document["FunctionName"] == "rc-stack-discovery"


def test_function_specific_metrics_are_emitted_with_the_standard_dimensions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENABLE_XRAY", "false")

    @trace_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> None:
        stats().put_metric("TransformJobsCompleted", 1)
        stats().put_metric("TransformJobsCompleted", 2)
        stats().put_metric("TransformJobDuration", 1500.0, "Milliseconds")

    handler({}, None)
    (document,) = _emf_documents(capsys.readouterr().out)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert [frozenset(d) for d in directive["Dimensions"]] == [EMF_DIMENSIONS]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units["TransformJobsCompleted"] == "Count" and units["TransformJobDuration"] == "Milliseconds"
    assert document["TransformJobsCompleted"] == 3


@pytest.mark.parametrize(
    ("name", "unit", "message"),
    [
        ("FilesProcessed", "Count", "standard handler metric"),
        ("Bad Name!", "Count", "invalid metric name"),
        ("Jobs", "Furlongs", "not a CloudWatch unit"),
    ],
)
def test_function_specific_metrics_are_validated(name: str, unit: str, message: str) -> None:
    with pytest.raises(MetricsError, match=message):
        stats().put_metric(name, 1, unit)


def test_unit_of_a_function_specific_metric_cannot_change() -> None:
    invocation = stats()
    invocation.put_metric("Jobs", 1)
    with pytest.raises(MetricsError, match="unit"):
        invocation.put_metric("Jobs", 1, "Seconds")


def test_scan_finds_literal_metrics_on_the_standard_dimensions(tmp_path: Path) -> None:
    module = tmp_path / "handler.py"
    module.write_text(
        """
from shared.observability import EmfMetrics, handler_dimensions, stats

def a():
    stats().put_metric("TransformJobsFailed", 1)
    invocation = stats()
    invocation.put_metric("TransformJobDuration", 10.0, unit="Milliseconds")

def b():
    metrics = EmfMetrics(handler_dimensions())
    metrics.put_metric("Retries", 2, "Count")
    metrics.flush()
""",
        encoding="utf-8",
    )
    found = {(m.name, m.unit) for m in scan_custom_metrics([module])}
    assert found == {
        ("TransformJobsFailed", "Count"),
        ("TransformJobDuration", "Milliseconds"),
        ("Retries", "Count"),
    }


def test_scan_ignores_buffers_with_other_namespaces_or_names_it_cannot_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    module = tmp_path / "handler.py"
    module.write_text(
        """
from shared.observability import EmfMetrics, handler_dimensions, stats

def a(name):
    other = EmfMetrics(handler_dimensions(), namespace="Elsewhere")
    other.put_metric("Elsewhere", 1)
    stats().put_metric(name, 1)
""",
        encoding="utf-8",
    )
    assert scan_custom_metrics([module]) == []
    assert "non-literal" in caplog.text


def test_fixture_function_metrics_are_per_function() -> None:
    consumer = metrics_registry.metrics_of_function(FIXTURE_UC, "stream_consumer")
    process = metrics_registry.metrics_of_function(FIXTURE_UC, "process")
    assert consumer["RecordsDeadLettered"] == "Count"
    assert "RecordsDeadLettered" not in process
    assert set(HANDLER_METRICS) <= set(process)
    assert metrics_registry.function_folders(FIXTURE_UC) == ["discovery", "process", "stream_consumer"]
    assert resolve(NAMESPACE, "RecordsDeadLettered", EMF_DIMENSIONS, [FIXTURE_UC]) is not None
    assert resolve(NAMESPACE, "RecordsDeadLettered", EMF_DIMENSIONS, []) is None


def test_every_catalog_function_emits_the_handler_metrics() -> None:
    for uc in catalog.USE_CASES:
        for folder in metrics_registry.function_folders(uc):
            assert set(HANDLER_METRICS) <= set(metrics_registry.metrics_of_function(uc, folder))


@pytest.mark.parametrize(
    ("namespace", "name", "dimensions", "known"),
    [
        ("AWS/States", "ExecutionsFailed", {"StateMachineArn"}, True),
        ("AWS/States", "ExecutionsTimedOut", {"StateMachineArn"}, True),
        ("AWS/States", "ExecutionTime", {"StateMachineArn"}, True),
        ("AWS/States", "ExecutionsFailed", {"StateMachineName"}, False),
        ("AWS/Lambda", "Errors", {"FunctionName"}, True),
        ("AWS/Lambda", "Duration", {"FunctionName"}, True),
        ("AWS/Lambda", "Throttles", {"FunctionName", "Resource"}, True),
        ("AWS/Lambda", "Errors", {"FunctionName", "UseCase"}, False),
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", {"StreamName"}, True),
        ("AWS/Kinesis", "WriteProvisionedThroughputExceeded", {"StreamName"}, True),
        ("AWS/Kinesis", "ReadProvisionedThroughputExceeded", {"StreamName"}, True),
        ("AWS/Kinesis", "IncomingRecords", {"StreamName", "ShardId"}, False),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName"}, True),
        (NAMESPACE, "FilesProcessed", {"UseCase", "FunctionName", "Environment"}, True),
        (NAMESPACE, "FilesProcessed", {"UseCase", "FunctionName"}, False),
        (NAMESPACE, "FilesProcessed", {"FunctionName"}, False),
    ],
)
def test_documented_and_emitted_dimension_sets(
    namespace: str, name: str, dimensions: set[str], known: bool
) -> None:
    assert (resolve(namespace, name, dimensions) is not None) is known


def test_registry_prints_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert metrics_registry.main() == 0
    out = capsys.readouterr().out
    assert "AWS/States" in out and "FilesProcessed" in out and "UseCase,FunctionName" not in out
    assert "Environment,FunctionName,UseCase" in out
