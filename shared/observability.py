"""Logs, tracing and metrics for every function: JSON logs, X-Ray subsegments and CloudWatch EMF.

Logs are JSON lines at INFO (or ``AWS_LAMBDA_LOG_LEVEL``/``POWERTOOLS_LOG_LEVEL``), formatted by
the Logger of Powertools for AWS Lambda and configured once on the root logger, so every module's
``logging.getLogger(__name__)`` gets it. Each line carries the request id and whatever correlation
keys (run id, file key) the handler added with :func:`log_keys`. Never log file content.

Tracing sits behind a small :class:`Tracer` seam. aws-xray-sdk reaches end of support on
2027-02-25, so only :class:`XRayTracer` knows about it; ``TRACING_BACKEND=module:factory`` plugs in
another backend (OpenTelemetry) without touching a handler. When the SDK is absent, ``ENABLE_XRAY``
is false or ``TRACING_BACKEND=none``, every subsegment is a no-op. Powertools' Tracer is not used:
it is built on the same X-Ray SDK, so it would tie every handler to the library this seam retires.

Metrics are written as EMF JSON lines on stdout; CloudWatch Logs turns them into metrics with no
PutMetricData call. :class:`EmfMetrics` refuses documents that CloudWatch would drop or truncate.
Powertools' Metrics is not used either: ``scripts/metrics_registry.py`` reads the literal names of
``stats().put_metric`` calls from each function's code to check the dashboard and alarms against
what the code emits, and the standard per-invocation metrics (with ``ColdStart`` as a 0/1 value
rather than Powertools' separate document) are what those dashboards and alarms already chart.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, TypeVar

from shared.errors import ConfigError, MetricsError

logger = logging.getLogger(__name__)

NAMESPACE = "FSxN-S3AP-Patterns"
DIMENSION_NAMES = ("UseCase", "FunctionName", "Environment")

MAX_METRICS_PER_EVENT = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSIONS = 30
MAX_EVENT_BYTES = 256 * 1024

UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
        "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
        "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
        "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
        "Count/Second", "None",
    }
)  # fmt: skip

# The metrics trace_lambda_handler emits on every invocation, with their units. The dashboard and
# alarm templates are checked against this table.
HANDLER_METRICS: Mapping[str, str] = {
    "FilesProcessed": "Count",
    "BytesProcessed": "Bytes",
    "ProcessingErrors": "Count",
    "ProcessingDuration": "Milliseconds",
    "ColdStart": "Count",
}

DEFAULT_LOG_LEVEL = "INFO"

_NAME = re.compile(r"^[A-Za-z0-9._/#:\- ]{1,255}$")

F = TypeVar("F", bound=Callable[..., Any])


def _xray_enabled() -> bool:
    return os.environ.get("ENABLE_XRAY", "true").strip().lower() not in {"false", "0", "no", "off"}


# -- logging ---------------------------------------------------------------------------------------


def log_level(environ: Mapping[str, str] | None = None) -> str:
    """The level to log at: Lambda's own setting first (it drops anything lower), then Powertools'."""
    source = os.environ if environ is None else environ
    for name in ("AWS_LAMBDA_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL"):
        raw = source.get(name, "").strip().upper()
        if raw:
            if raw not in logging.getLevelNamesMapping():
                raise ConfigError(f"{name}={raw!r} is not a logging level", variable=name)
            return "WARNING" if raw == "WARN" else raw
    return DEFAULT_LOG_LEVEL


def json_formatter() -> logging.Formatter:
    """A Powertools JSON formatter tagged with this function's use case as its service."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    service = os.environ.get("POWERTOOLS_SERVICE_NAME") or os.environ.get("USE_CASE", "unknown")
    return LambdaPowertoolsFormatter(service=service, utc=True)


def configure_logging(target: logging.Logger | None = None) -> None:
    """Set the level and the JSON formatter on ``target`` (default: the root logger).

    On Lambda the runtime has put its handler on the root logger; it keeps it and gets the JSON
    formatter. Outside Lambda (tests, the embedded local cloud, which captures records itself) only
    the level is set on the root logger, so INFO still reaches the captured log.
    """
    root = target if target is not None else logging.getLogger()
    root.setLevel(log_level())
    if target is None and not os.environ.get("LAMBDA_TASK_ROOT"):
        return
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    formatter = json_formatter()
    for handler in root.handlers:
        handler.setFormatter(formatter)


def append_log_keys(**keys: str | int | None) -> None:
    """Add correlation keys to every log line of this invocation (thread- and context-local)."""
    from aws_lambda_powertools.logging.formatter import set_context_keys

    set_context_keys(**{k: v for k, v in keys.items() if v is not None})  # type: ignore[arg-type]


@contextlib.contextmanager
def log_keys(**keys: str | int | None) -> Iterator[None]:
    """Correlation keys (``run_id``, ``file_key``) on every log line inside the block."""
    from aws_lambda_powertools.logging.formatter import remove_context_keys

    append_log_keys(**keys)
    try:
        yield
    finally:
        remove_context_keys(keys)


def event_log_keys(event: Any) -> dict[str, str]:
    """The correlation keys a Step Functions task event carries: run id, file key, version, execution.

    Only identifiers are taken, never payload: a file's key names it, its content stays out of logs.
    """
    if not isinstance(event, Mapping):
        return {}
    discovery = event.get("discovery")
    execution = event.get("execution")
    candidates = {
        "run_id": event.get("run_id")
        or (discovery.get("run_id") if isinstance(discovery, Mapping) else None),
        "file_key": event.get("key"),
        "version_id": event.get("version_id"),
        "execution": execution.get("name") if isinstance(execution, Mapping) else None,
    }
    return {name: value for name, value in candidates.items() if isinstance(value, str) and value}


def _clear_log_keys() -> None:
    from aws_lambda_powertools.logging.formatter import clear_context_keys

    clear_context_keys()


# -- tracing ---------------------------------------------------------------------------------------


class Span(Protocol):
    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...


class Tracer(Protocol):
    def subsegment(self, name: str) -> contextlib.AbstractContextManager[Span]: ...


class _NoopSpan:
    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None


class NoopTracer:
    """Records nothing; used when tracing is off or the SDK is not installed."""

    @contextlib.contextmanager
    def subsegment(self, name: str) -> Iterator[Span]:
        yield _NoopSpan()


class XRayTracer:
    """Records subsegments through aws-xray-sdk's global recorder."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    @contextlib.contextmanager
    def subsegment(self, name: str) -> Iterator[Span]:
        if self.recorder.current_segment() is None:
            # No open segment (outside Lambda): nothing to attach to, and nothing to warn about.
            yield _NoopSpan()
            return
        with self.recorder.in_subsegment(name) as span:
            yield span if span is not None else _NoopSpan()


_tracer: Tracer | None = None


def get_tracer() -> Tracer:
    """The process tracer, chosen once: X-Ray when enabled and importable, else a no-op."""
    global _tracer
    if _tracer is None:
        _tracer = _choose_tracer()
    return _tracer


def _choose_tracer() -> Tracer:
    if not _xray_enabled():
        return NoopTracer()
    backend = os.environ.get("TRACING_BACKEND", "xray").strip()
    if backend == "none":
        return NoopTracer()
    if backend != "xray":
        return _tracer_from_factory(backend)
    try:
        from aws_xray_sdk.core import patch, xray_recorder
    except ImportError:
        logger.info("aws-xray-sdk is not installed; subsegments are not recorded")
        return NoopTracer()
    # In Lambda the runtime opens the facade segment, and patching botocore records every AWS call.
    # Elsewhere (tests, the local cloud) there is no segment: patching would log a warning per AWS
    # call in the whole process, so it happens only in Lambda.
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT"))
    xray_recorder.configure(context_missing="LOG_ERROR" if in_lambda else "IGNORE_ERROR")
    if in_lambda:
        patch(["botocore"])
    return XRayTracer(xray_recorder)


def _tracer_from_factory(spec: str) -> Tracer:
    """``TRACING_BACKEND=package.module:factory``: a tracer from another backend (OpenTelemetry).

    The factory takes no arguments and returns an object with ``subsegment(name)``; handlers keep
    calling :func:`xray_subsegment`, so switching backends is a configuration change only.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"TRACING_BACKEND={spec!r}: expected 'xray', 'none' or 'package.module:factory'",
            variable="TRACING_BACKEND",
        )
    import importlib

    factory = getattr(importlib.import_module(module_name), attribute)
    tracer: Tracer = factory()
    return tracer


def set_tracer(tracer: Tracer | None) -> None:
    """Replace the process tracer (``None`` chooses again on next use)."""
    global _tracer
    _tracer = tracer


_ANNOTATION_KEY = re.compile(r"^[A-Za-z0-9_]{1,500}$")


class xray_subsegment(contextlib.ContextDecorator):  # noqa: N801 - reads as a function at call sites
    """Record a named subsegment with annotations (indexed) and metadata (not indexed).

    Works as ``with xray_subsegment("list", {"prefix": p}):`` and as ``@xray_subsegment("list")``.
    Annotation keys that X-Ray would reject are renamed to safe ones rather than dropped.
    """

    def __init__(
        self,
        name: str,
        annotations: Mapping[str, str | int | float | bool] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name[:200]
        self.annotations = dict(annotations or {})
        self.metadata = dict(metadata or {})
        self._stack: list[contextlib.ExitStack] = []

    def __enter__(self) -> Span:
        stack = contextlib.ExitStack()
        span = stack.enter_context(get_tracer().subsegment(self.name))
        for key, value in self.annotations.items():
            safe_key = key if _ANNOTATION_KEY.match(key) else re.sub(r"[^A-Za-z0-9_]", "_", key)[:500]
            span.put_annotation(safe_key, value)
        for key, value in self.metadata.items():
            span.put_metadata(key, value)
        self._stack.append(stack)
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.pop().__exit__(exc_type, exc, tb)


# -- metrics ---------------------------------------------------------------------------------------


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise MetricsError(
            f"invalid {kind} {name!r}: 1-255 characters of letters, digits and . _ / # : - space"
        )


def validate_namespace(namespace: str) -> str:
    _check_name("namespace", namespace)
    if namespace.startswith("AWS/"):
        raise MetricsError(f"namespace {namespace!r} is reserved for AWS services")
    return namespace


def validate_dimensions(dimensions: Mapping[str, str], required: tuple[str, ...] = DIMENSION_NAMES) -> None:
    if len(dimensions) > MAX_DIMENSIONS:
        raise MetricsError(f"at most {MAX_DIMENSIONS} dimensions per metric, got {len(dimensions)}")
    missing = [name for name in required if name not in dimensions]
    if missing:
        raise MetricsError(f"missing dimension(s) {missing}; every metric carries {list(required)}")
    for name, value in dimensions.items():
        _check_name("dimension name", name)
        if not isinstance(value, str) or not value or len(value) > 1024:
            raise MetricsError(f"dimension {name} needs a 1-1024 character string value, got {value!r}")


class EmfMetrics:
    """A buffer of metrics that serializes to valid EMF documents.

    One document holds at most 100 metrics of at most 100 values each; adding beyond either limit
    flushes the buffer first. A document that would exceed 256 KB is split in two.
    """

    def __init__(
        self,
        dimensions: Mapping[str, str],
        *,
        namespace: str = NAMESPACE,
        sink: Callable[[str], None] | None = None,
        required_dimensions: tuple[str, ...] = DIMENSION_NAMES,
    ) -> None:
        self.namespace = validate_namespace(namespace)
        validate_dimensions(dimensions, required_dimensions)
        self.dimensions = dict(dimensions)
        self.sink = sink or _stdout_sink
        self._values: dict[str, list[float]] = {}
        self._units: dict[str, str] = {}

    def put_metric(self, name: str, value: float, unit: str = "Count") -> None:
        _check_name("metric name", name)
        if name in self.dimensions:
            raise MetricsError(f"metric {name!r} clashes with a dimension of the same name")
        if unit not in UNITS:
            raise MetricsError(f"unit {unit!r} is not a CloudWatch unit")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise MetricsError(f"metric {name} needs a finite number, got {value!r}")
        known_unit = self._units.get(name)
        if known_unit is not None and known_unit != unit:
            raise MetricsError(f"metric {name} was put with unit {known_unit}, not {unit}")
        is_new = name not in self._values
        if (is_new and len(self._values) >= MAX_METRICS_PER_EVENT) or (
            not is_new and len(self._values[name]) >= MAX_VALUES_PER_METRIC
        ):
            self.flush()
        self._values.setdefault(name, []).append(float(value))
        self._units[name] = unit

    def documents(self, timestamp_ms: int | None = None) -> list[dict[str, Any]]:
        """The buffered metrics as EMF documents, without clearing the buffer."""
        if not self._values:
            return []
        stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        return self._split(sorted(self._values), stamp)

    def _split(self, names: list[str], stamp: int) -> list[dict[str, Any]]:
        document = self._document(names, stamp)
        if len(json.dumps(document, separators=(",", ":"))) <= MAX_EVENT_BYTES or len(names) == 1:
            return [document]
        half = len(names) // 2
        return self._split(names[:half], stamp) + self._split(names[half:], stamp)

    def _document(self, names: list[str], stamp: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "_aws": {
                "Timestamp": stamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [list(self.dimensions)],
                        "Metrics": [{"Name": n, "Unit": self._units[n]} for n in names],
                    }
                ],
            },
            **self.dimensions,
        }
        for name in names:
            values = self._values[name]
            body[name] = values[0] if len(values) == 1 else values
        return body

    def flush(self) -> list[dict[str, Any]]:
        """Write every buffered document to the sink and clear the buffer."""
        docs = self.documents()
        for doc in docs:
            self.sink(json.dumps(doc, separators=(",", ":")))
        self._values.clear()
        self._units.clear()
        return docs


def _stdout_sink(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- the handler wrapper ---------------------------------------------------------------------------


@dataclass
class InvocationStats:
    """What a handler reports about one invocation; emitted as metrics when it returns."""

    files: int = 0
    bytes: int = 0
    errors: int = 0
    custom: dict[str, tuple[float, str]] = field(default_factory=dict)

    def processed(self, files: int = 1, bytes_: int = 0) -> None:
        self.files += files
        self.bytes += bytes_

    def failed(self, count: int = 1) -> None:
        """Count handled per-item failures (they still show in ProcessingErrors)."""
        self.errors += count

    def put_metric(self, name: str, value: float, unit: str = "Count") -> None:
        """Add to a function-specific metric, emitted with the standard dimensions on return.

        Use a literal name: the metrics registry reads these calls from the source so that the
        dashboard and alarms can be checked against them. Repeated calls add up.
        """
        if name in HANDLER_METRICS:
            raise MetricsError(f"{name} is a standard handler metric; use processed()/failed()")
        _check_name("metric name", name)
        if unit not in UNITS:
            raise MetricsError(f"unit {unit!r} is not a CloudWatch unit")
        previous, known_unit = self.custom.get(name, (0.0, unit))
        if known_unit != unit:
            raise MetricsError(f"metric {name} was put with unit {known_unit}, not {unit}")
        self.custom[name] = (previous + float(value), unit)


_current: contextvars.ContextVar[InvocationStats | None] = contextvars.ContextVar("invocation", default=None)
_cold_start = True
_logging_configured = False


def stats() -> InvocationStats:
    """The current invocation's stats; outside a traced handler, a throwaway object."""
    current = _current.get()
    return current if current is not None else InvocationStats()


def handler_dimensions(function_name: str | None = None) -> dict[str, str]:
    """The dimension set every function emits, from its environment."""
    return {
        "UseCase": os.environ.get("USE_CASE", "unknown"),
        "FunctionName": function_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        "Environment": os.environ.get("ENVIRONMENT", "prod"),
    }


def trace_lambda_handler(handler: F) -> F:
    """Wrap a Lambda handler: a subsegment, the standard metrics, and failures that still raise.

    The handler reports work through :func:`stats`. On an exception the wrapper records
    ProcessingErrors and re-raises, so Lambda, Step Functions and the alarms see the failure.
    """

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        global _cold_start, _logging_configured
        if not _logging_configured:
            configure_logging()
            _logging_configured = True
        invocation = InvocationStats()
        token = _current.set(invocation)
        started = time.perf_counter()
        cold, _cold_start = _cold_start, False
        _clear_log_keys()
        append_log_keys(
            request_id=getattr(context, "aws_request_id", None), cold_start=int(cold), **event_log_keys(event)
        )
        metrics = EmfMetrics(handler_dimensions())
        try:
            with xray_subsegment(
                handler.__name__, {"use_case": metrics.dimensions["UseCase"], "cold_start": cold}
            ):
                return handler(event, context)
        except BaseException:
            invocation.errors += 1
            logger.exception("handler %s failed", metrics.dimensions["FunctionName"])
            raise
        finally:
            _current.reset(token)
            _clear_log_keys()
            metrics.put_metric("ProcessingDuration", (time.perf_counter() - started) * 1000, "Milliseconds")
            metrics.put_metric("FilesProcessed", invocation.files, "Count")
            metrics.put_metric("BytesProcessed", invocation.bytes, "Bytes")
            metrics.put_metric("ProcessingErrors", invocation.errors, "Count")
            metrics.put_metric("ColdStart", 1 if cold else 0, "Count")
            for name, (value, unit) in sorted(invocation.custom.items()):
                metrics.put_metric(name, value, unit)
            metrics.flush()

    return wrapper  # type: ignore[return-value]
