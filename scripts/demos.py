"""Demo drivers: run one use case end to end on the embedded local cloud and summarize it.

A driver is the module ``demo`` of the use case's own package (``retail-catalog/retail_catalog/demo.py``,
imported as ``retail_catalog.demo``; see :attr:`scripts.catalog.UseCase.demo_module`) with three
functions:

* ``parameters(access_point) -> dict``: the stack parameters for the demo (Phase 3 features on,
  the access point ARN as ``AccessPointAlias``);
* ``seed(cloud, access_point, files) -> int``: write sample files with the use case's generator;
* ``drive(cloud, stack, access_point, summary, step) -> None``: run the flows and fill the summary.

:func:`run_demo` does the rest: it finds the use case, says plainly when it is not built yet, opens
the local cloud, deploys, seeds, drives, times every step, draws the shared dashboard from the
metrics the run emitted (``build/<use case>/dashboard.png``), prints the summary and tells the
caller whether every flow succeeded.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from scripts import catalog

logger = logging.getLogger(__name__)

Out = Callable[[str], None]


class NotBuiltError(LookupError):
    """The use case exists in the catalog but has no template or no demo driver yet."""


@dataclass
class Flow:
    """One flow the demo drove, and whether it ended well."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Summary:
    """The numbers a demo prints at the end (and tests assert on)."""

    use_case: str
    files_seeded: int = 0
    files_detected: int = 0
    events_streamed: int = 0
    items_per_state: dict[str, int] = field(default_factory=dict)
    dlq_entries: int = 0
    metrics_emitted: int = 0
    output_keys: list[str] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.flows) and all(flow.ok for flow in self.flows)

    def flow(self, name: str, ok: bool, detail: str = "") -> None:
        self.flows.append(Flow(name, ok, detail))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self, max_keys: int = 10) -> str:
        lines = [
            f"summary for {self.use_case}",
            f"  files seeded          {self.files_seeded}",
            f"  files detected        {self.files_detected}",
            f"  events streamed       {self.events_streamed}",
            "  items per state       "
            + (", ".join(f"{k}={v}" for k, v in sorted(self.items_per_state.items())) or "-"),
            f"  DLQ entries           {self.dlq_entries}",
            f"  metrics emitted       {self.metrics_emitted}",
            f"  elapsed               {self.elapsed_seconds:.1f} s",
            f"  output keys written   {len(self.output_keys)}",
        ]
        lines.extend(f"    {key}" for key in self.output_keys[:max_keys])
        if len(self.output_keys) > max_keys:
            lines.append(f"    ... and {len(self.output_keys) - max_keys} more")
        for key, value in sorted(self.extra.items()):
            lines.append(f"  {key:<21} {value}")
        lines.append("  flows")
        lines.extend(
            f"    {'ok  ' if f.ok else 'FAIL'} {f.name}{': ' + f.detail if f.detail else ''}"
            for f in self.flows
        )
        lines.append("result: " + ("all flows succeeded" if self.ok else "a flow FAILED"))
        return "\n".join(lines)


class Step:
    """Prints numbered, timed progress lines: ``[2] seed 50 files ... ok (0.4 s)``."""

    def __init__(self, out: Out) -> None:
        self.out = out
        self.count = 0

    @contextlib.contextmanager
    def __call__(self, title: str) -> Iterator[None]:
        self.count += 1
        started = time.perf_counter()
        self.out(f"[{self.count}] {title} ...")
        try:
            yield
        except BaseException:
            self.out(f"[{self.count}] {title} FAILED ({time.perf_counter() - started:.1f} s)")
            raise
        self.out(f"[{self.count}] {title} ok ({time.perf_counter() - started:.1f} s)")


class Driver(Protocol):
    def parameters(self, access_point: Any) -> dict[str, str]: ...
    def seed(self, cloud: Any, access_point: Any, files: int) -> int: ...
    def drive(self, cloud: Any, stack: Any, access_point: Any, summary: Summary, step: Step) -> None: ...


def driver_for(uc: catalog.UseCase) -> ModuleType:
    """The driver module of a built use case, or :class:`NotBuiltError` saying what is missing."""
    if not uc.exists:
        raise NotBuiltError(f"{uc.name} ({uc.code}) is not built yet: {uc.template} does not exist")
    catalog.make_importable()
    module = uc.demo_module
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name not in {module, uc.package}:
            raise
        raise NotBuiltError(
            f"{uc.name} ({uc.code}) has a template but no demo driver yet ({module})"
        ) from error


def run_demo(
    uc: str | Path,
    files: int,
    *,
    out: Out = print,
    driver: Driver | ModuleType | None = None,
    verbose: bool = False,
    build_root: Path | None = None,
    pip: Any = None,
) -> Summary:
    """Deploy ``uc`` on a fresh local cloud, seed ``files`` files, drive its flows, return the summary.

    ``build_root`` defaults to the project's ``build/`` so packaging caches carry over between runs
    and ``make deploy``; ``pip`` replaces the layer builder (see ``local_layer_pip``).
    """
    from scripts.localcloud import LocalCloud
    from scripts.packaging import DEFAULT_BUILD_ROOT, resolve

    use_case = resolve(uc)
    chosen: Any = driver or driver_for(use_case)
    summary = Summary(use_case=use_case.name)
    step = Step(out)
    started = time.perf_counter()
    with LocalCloud(out=out if verbose else None, build_root=build_root or DEFAULT_BUILD_ROOT) as cloud:
        with step("create the access point standing in for the FSx for ONTAP volume"):
            access_point = cloud.create_access_point()
        with step(f"package and deploy {use_case.name} with its Phase 3 features on"):
            stack = deploy_with_fallback(cloud, use_case, chosen.parameters(access_point), pip, out)
            out(
                f"    stack {stack.name}: {len(stack.physical_ids)} resources by CloudFormation, "
                f"{len(stack.created)} created locally"
            )
        with step(f"seed {files} sample files"):
            summary.files_seeded = chosen.seed(cloud, access_point, files)
        chosen.drive(cloud, stack, access_point, summary, step)
        summary.metrics_emitted = cloud.emf.total
        with step("draw the shared dashboard from the metrics this run emitted"):
            picture = draw_dashboard(cloud, use_case, build_root or DEFAULT_BUILD_ROOT)
            out(f"    dashboard: {_shown(picture)}")
        summary.extra["dashboard picture"] = _shown(picture)
    summary.elapsed_seconds = time.perf_counter() - started
    return summary


def draw_dashboard(cloud: Any, uc: catalog.UseCase, build_root: Path) -> Path:
    """Render the shared dashboard's queries over the run's metrics to ``<build>/<uc>/dashboard.png``.

    The searches are evaluated against the local CloudWatch (ListMetrics, GetMetricData); the
    values the run put are recorded beside the picture (``metrics.json``), the input from which
    ``shared/cfn/dashboard-metrics.json`` is refreshed.
    """
    from scripts import render_dashboard

    folder = build_root / uc.name
    points = list(cloud.emf.points)
    render_dashboard.write_snapshot(points, folder / "metrics.json", f"make demo UC={uc.name}")
    source = render_dashboard.CloudWatchSource(cloud.client("cloudwatch"), points)
    return render_dashboard.render_points(points, folder / "dashboard.png", source, uc)


def _shown(path: Path) -> str:
    """A path relative to the project when it is inside it (what a user types next)."""
    return str(path.relative_to(catalog.ROOT)) if path.is_relative_to(catalog.ROOT) else str(path)


def stack_name(uc: catalog.UseCase) -> str:
    return f"local-{uc.name}"[:60]


def deploy_with_fallback(cloud: Any, uc: catalog.UseCase, params: dict[str, str], pip: Any, out: Out) -> Any:
    """Deploy; if pip cannot build the dependencies layer (offline), build a local stand-in layer."""
    from scripts.deploy import DeployError
    from scripts.localcloud.cloud import local_layer_pip

    try:
        return cloud.deploy(str(uc.path), params, stack_name=stack_name(uc), pip=pip)
    except DeployError as error:
        if pip is not None or "pip failed" not in str(error):
            raise
        out(f"    pip could not build the dependencies layer ({error}); using a local stand-in layer")
        return cloud.deploy(str(uc.path), params, stack_name=stack_name(uc), pip=local_layer_pip)
