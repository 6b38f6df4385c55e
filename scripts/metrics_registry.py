"""The metrics this project's code and AWS really emit, so dashboards and alarms can be checked.

A CloudWatch widget or alarm that names a metric with a dimension set nobody emits shows nothing,
silently. This registry is the other side of that check:

* EMF metrics. Every handler wrapped in ``shared.observability.trace_lambda_handler`` emits
  ``HANDLER_METRICS`` in namespace ``NAMESPACE`` with exactly the dimensions ``DIMENSION_NAMES``.
  A function may emit more (for example transform-job outcomes): those are found by reading the
  source of the use case's functions and of ``shared`` for ``put_metric("<Name>", ...)`` calls on an
  ``EmfMetrics(handler_dimensions(...))`` buffer, so the registry follows the code, not a list
  someone has to remember to update.
* AWS metrics, with the dimension sets the AWS documentation lists for them (the per-service
  "CloudWatch metrics" pages of Step Functions, Lambda, Kinesis Data Streams, DynamoDB, SQS, SNS and
  SageMaker batch transform).
"""

from __future__ import annotations

import ast
import functools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts import catalog
from shared.observability import DIMENSION_NAMES, HANDLER_METRICS, NAMESPACE

logger = logging.getLogger(__name__)

EMF_DIMENSIONS: frozenset[str] = frozenset(DIMENSION_NAMES)


@dataclass(frozen=True)
class MetricSpec:
    """One metric as CloudWatch stores it: namespace, name and one exact dimension set."""

    namespace: str
    name: str
    dimensions: frozenset[str]
    unit: str
    source: str

    @property
    def key(self) -> tuple[str, str, frozenset[str]]:
        return (self.namespace, self.name, self.dimensions)


def _aws(
    namespace: str, dims: Iterable[frozenset[str]], metrics: dict[str, str], doc: str
) -> list[MetricSpec]:
    return [MetricSpec(namespace, name, d, unit, doc) for name, unit in metrics.items() for d in dims]


_FN = frozenset({"FunctionName"})
_SM = frozenset({"StateMachineArn"})
_STREAM = frozenset({"StreamName"})

# Documented AWS metrics the templates may use. Only dimension sets AWS publishes by default are
# listed: shard-level Kinesis metrics (StreamName, ShardId) need enhanced monitoring and are left out.
AWS_METRICS: tuple[MetricSpec, ...] = tuple(
    _aws(
        "AWS/States",
        [_SM],
        {
            "ExecutionsStarted": "Count",
            "ExecutionsSucceeded": "Count",
            "ExecutionsFailed": "Count",
            "ExecutionsTimedOut": "Count",
            "ExecutionsAborted": "Count",
            "ExecutionThrottled": "Count",
            "ExecutionTime": "Milliseconds",
        },
        "docs: Step Functions execution metrics (dimension StateMachineArn)",
    )
    + _aws(
        "AWS/Lambda",
        [_FN, frozenset({"FunctionName", "Resource"}), frozenset()],
        {
            "Invocations": "Count",
            "Errors": "Count",
            "Throttles": "Count",
            "Duration": "Milliseconds",
            "ConcurrentExecutions": "Count",
        },
        "docs: Lambda function metrics (FunctionName; account-wide with no dimension)",
    )
    + _aws(
        "AWS/Lambda",
        [_FN],
        {"IteratorAge": "Milliseconds", "DestinationDeliveryFailures": "Count"},
        "docs: Lambda event source mapping metrics (FunctionName)",
    )
    + _aws(
        "AWS/Kinesis",
        [_STREAM],
        {
            "GetRecords.IteratorAgeMilliseconds": "Milliseconds",
            "GetRecords.Records": "Count",
            "IncomingRecords": "Count",
            "IncomingBytes": "Bytes",
            "WriteProvisionedThroughputExceeded": "Count",
            "ReadProvisionedThroughputExceeded": "Count",
            "PutRecords.FailedRecords": "Count",
            "PutRecords.ThrottledRecords": "Count",
            "PutRecords.SuccessfulRecords": "Count",
        },
        "docs: Kinesis Data Streams stream-level metrics (StreamName)",
    )
    + _aws(
        "AWS/DynamoDB",
        [frozenset({"TableName"})],
        {"ConsumedWriteCapacityUnits": "Count", "ConsumedReadCapacityUnits": "Count"},
        "docs: DynamoDB table metrics (TableName)",
    )
    + _aws(
        "AWS/DynamoDB",
        [frozenset({"TableName", "Operation"})],
        {"SuccessfulRequestLatency": "Milliseconds", "ThrottledRequests": "Count", "SystemErrors": "Count"},
        "docs: DynamoDB operation metrics (TableName, Operation)",
    )
    + _aws(
        "AWS/SQS",
        [frozenset({"QueueName"})],
        {
            "ApproximateNumberOfMessagesVisible": "Count",
            "NumberOfMessagesSent": "Count",
            "ApproximateAgeOfOldestMessage": "Seconds",
        },
        "docs: SQS queue metrics (QueueName)",
    )
    + _aws(
        "AWS/SNS",
        [frozenset({"TopicName"})],
        {"NumberOfMessagesPublished": "Count", "NumberOfNotificationsFailed": "Count"},
        "docs: SNS topic metrics (TopicName)",
    )
    + _aws(
        "/aws/sagemaker/TransformJobs",
        [frozenset({"Host"})],
        {"CPUUtilization": "Percent", "MemoryUtilization": "Percent", "DiskUtilization": "Percent"},
        "docs: SageMaker batch transform instance metrics (Host = <job name>/<instance id>); "
        "SageMaker publishes no job-outcome metric, so outcomes come from the callback's EMF",
    )
)


# -- EMF metrics from the code ---------------------------------------------------------------------


@dataclass(frozen=True)
class CustomMetric:
    """A metric some function's code puts on an EMF buffer with the standard dimensions."""

    name: str
    unit: str
    path: Path


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _uses_standard_buffer(tree: ast.AST) -> bool:
    """True when the module builds ``EmfMetrics(handler_dimensions(...))`` in the default namespace."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name != "EmfMetrics" or not node.args:
            continue
        first = node.args[0]
        callee = first.func if isinstance(first, ast.Call) else None
        called = (
            callee.attr
            if isinstance(callee, ast.Attribute)
            else callee.id
            if isinstance(callee, ast.Name)
            else ""
        )
        other_namespace = any(k.arg in {"namespace", "required_dimensions"} for k in node.keywords)
        if called == "handler_dimensions" and not other_namespace:
            return True
    return False


def _is_stats_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "stats") or (
        isinstance(func, ast.Attribute) and func.attr == "stats"
    )


def _stats_variables(tree: ast.AST) -> set[str]:
    """Names bound to ``stats()`` (``invocation = stats()``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _is_stats_call(node.value):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def scan_custom_metrics(paths: Iterable[Path]) -> list[CustomMetric]:
    """Literal ``put_metric("<Name>", value, "<Unit>")`` calls that carry the standard dimensions.

    Two forms qualify: ``stats().put_metric(...)`` (the invocation's own metrics, emitted by
    ``trace_lambda_handler``), and ``put_metric`` in a module that builds an
    ``EmfMetrics(handler_dimensions(...))`` buffer in the default namespace.
    """
    found: list[CustomMetric] = []
    for path in paths:
        found += _scan_file(path, path.stat().st_mtime_ns)
    return found


@functools.lru_cache(maxsize=4096)
def _scan_file(path: Path, mtime_ns: int) -> tuple[CustomMetric, ...]:
    """One module's custom metrics; cached per modification time, as the checks ask many times."""
    found: list[CustomMetric] = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    standard_buffer = _uses_standard_buffer(tree)
    stats_names = _stats_variables(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "put_metric"
            and node.args
        ):
            receiver = node.func.value
            on_stats = _is_stats_call(receiver) or (
                isinstance(receiver, ast.Name) and receiver.id in stats_names
            )
            if not (on_stats or standard_buffer):
                continue
            name = _literal(node.args[0])
            if name is None:
                logger.warning("%s: put_metric with a non-literal name cannot be registered", path)
                continue
            unit_node = node.args[2] if len(node.args) > 2 else None
            for keyword in node.keywords:
                if keyword.arg == "unit":
                    unit_node = keyword.value
            found.append(CustomMetric(name, _literal(unit_node) or "Count", path))
    return tuple(found)


def _python_files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def function_folders(uc: catalog.UseCase) -> list[str]:
    """The function folders of a use case (``functions/<fn>/handler.py``)."""
    if not uc.functions_dir.is_dir():
        return []
    return sorted(p.parent.name for p in uc.functions_dir.glob("*/handler.py"))


def function_suffix(folder: str) -> str:
    """The function-name suffix for a folder: ``stream_producer`` -> ``stream-producer``."""
    return folder.replace("_", "-")


def shared_custom_metrics() -> list[CustomMetric]:
    """Custom metrics emitted by the ``shared`` package (any function may emit them)."""
    shared = catalog.ROOT / "shared"
    files = [p for p in _python_files(shared) if p.name != "observability.py" and "cfn" not in p.parts]
    return scan_custom_metrics(files)


def function_custom_metrics(uc: catalog.UseCase) -> dict[str, list[CustomMetric]]:
    """Custom metrics per function folder of ``uc``: its own modules, and the modules of the use
    case's package that its import closure reaches (the ones its zip carries)."""
    return {
        fn: scan_custom_metrics([*_python_files(uc.functions_dir / fn), *_package_modules(uc, fn)])
        for fn in function_folders(uc)
    }


def _package_modules(uc: catalog.UseCase, folder: str) -> tuple[Path, ...]:
    """The files of ``uc``'s own package that the function ``folder`` imports, directly or not."""
    key = (uc.path, folder)
    if key not in _CLOSURES:
        _CLOSURES[key] = _closure_of(uc, folder)
    return _CLOSURES[key]


_CLOSURES: dict[tuple[Path, str], tuple[Path, ...]] = {}


def _closure_of(uc: catalog.UseCase, folder: str) -> tuple[Path, ...]:
    from scripts import packaging  # packaging is heavy; only this lookup needs it

    roots = packaging.first_party_roots(uc)
    own = {name: path for name, path in roots.items() if name != "shared"}
    if not own:
        return ()
    closure = packaging.function_closure(uc.functions_dir / folder, roots)
    return tuple(sorted(path for name, path in closure.files.items() if name.split("/")[0] in own))


def emf_metrics(use_cases: Iterable[catalog.UseCase] = catalog.USE_CASES) -> list[MetricSpec]:
    """Every EMF metric the project's code emits (namespace, name, exact dimension set)."""
    specs = [
        MetricSpec(NAMESPACE, name, EMF_DIMENSIONS, unit, "shared.observability.HANDLER_METRICS")
        for name, unit in HANDLER_METRICS.items()
    ]
    for metric in shared_custom_metrics():
        specs.append(MetricSpec(NAMESPACE, metric.name, EMF_DIMENSIONS, metric.unit, str(metric.path)))
    for uc in use_cases:
        for metrics in function_custom_metrics(uc).values():
            for metric in metrics:
                specs.append(
                    MetricSpec(NAMESPACE, metric.name, EMF_DIMENSIONS, metric.unit, str(metric.path))
                )
    return specs


def metrics_of_function(uc: catalog.UseCase, folder: str) -> dict[str, str]:
    """Name -> unit of every EMF metric one function emits (handler metrics plus its own)."""
    out = dict(HANDLER_METRICS)
    for metric in shared_custom_metrics():
        out.setdefault(metric.name, metric.unit)
    for metric in function_custom_metrics(uc).get(folder, []):
        out.setdefault(metric.name, metric.unit)
    return out


def all_metrics(use_cases: Iterable[catalog.UseCase] = catalog.USE_CASES) -> list[MetricSpec]:
    return emf_metrics(use_cases) + list(AWS_METRICS)


def resolve(
    namespace: str,
    name: str,
    dimensions: Iterable[str],
    use_cases: Iterable[catalog.UseCase] = catalog.USE_CASES,
) -> MetricSpec | None:
    """The registered metric with exactly this namespace, name and dimension set, or None."""
    return _index(tuple(use_cases)).get((namespace, name, frozenset(dimensions)))


def _index(use_cases: tuple[catalog.UseCase, ...]) -> dict[tuple[str, str, frozenset[str]], MetricSpec]:
    index: dict[tuple[str, str, frozenset[str]], MetricSpec] = {}
    for spec in all_metrics(use_cases):
        index.setdefault(spec.key, spec)
    return index


def main() -> int:
    """Print the registry as a table (``python -m scripts.metrics_registry``)."""
    for spec in sorted(set(all_metrics()), key=lambda s: (s.namespace, s.name, sorted(s.dimensions))):
        dims = ",".join(sorted(spec.dimensions)) or "-"
        print(f"{spec.namespace:<30} {spec.name:<36} {dims:<34} {spec.unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
