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

:func:`run_fleet` (``make demo UC=all``) runs every built use case, one after another, on one local
cloud: each gets its own access point and stack, a use case that fails does not stop the others,
and the fleet dashboard is drawn from the metrics all of them emitted (``build/fleet/``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
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
    step = Step(out)
    started = time.perf_counter()
    root = build_root or DEFAULT_BUILD_ROOT
    with LocalCloud(out=out if verbose else None, build_root=root) as cloud:
        summary = drive_one(cloud, use_case, chosen, files, step, out, pip)
        with step("draw the shared dashboard from the metrics this run emitted"):
            picture = draw_dashboard(cloud, use_case, root)
            out(f"    dashboard: {_shown(picture)}")
        summary.extra["dashboard picture"] = _shown(picture)
    summary.elapsed_seconds = time.perf_counter() - started
    return summary


def drive_one(
    cloud: Any,
    use_case: catalog.UseCase,
    driver: Driver | ModuleType,
    files: int,
    step: Step,
    out: Out,
    pip: Any = None,
    *,
    volume: tuple[str, str] = ("fsxn-volume", "fsxn-ap"),
) -> Summary:
    """Create an access point, deploy, seed and drive one use case on an open local cloud.

    ``volume`` names the bucket and access point; a fleet run gives each use case its own.
    """
    summary = Summary(use_case=use_case.name)
    metrics_before = cloud.emf.total
    with step("create the access point standing in for the FSx for ONTAP volume"):
        access_point = cloud.create_access_point(*volume)
    with step(f"package and deploy {use_case.name} with its Phase 3 features on"):
        stack = deploy_with_fallback(cloud, use_case, driver.parameters(access_point), pip, out)
        out(
            f"    stack {stack.name}: {len(stack.physical_ids)} resources by CloudFormation, "
            f"{len(stack.created)} created locally"
        )
    with step(f"seed {files} sample files"):
        summary.files_seeded = driver.seed(cloud, access_point, files)
    driver.drive(cloud, stack, access_point, summary, step)
    summary.metrics_emitted = cloud.emf.total - metrics_before
    return summary


@dataclass
class FleetRow:
    """One use case of a fleet run: its summary, or the error that stopped it."""

    use_case: catalog.UseCase
    summary: Summary | None
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.summary is not None and not self.error and self.summary.ok

    def failures(self) -> list[str]:
        if self.summary is None or self.error:
            return [self.error or "did not run"]
        return [f"{f.name}: {f.detail}" if f.detail else f.name for f in self.summary.flows if not f.ok]


@dataclass
class Fleet:
    """Every use case a fleet run drove, in catalog order, and the fleet dashboard it drew."""

    rows: list[FleetRow] = field(default_factory=list)
    dashboard: str = ""
    elapsed_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON object per use case (``build/fleet/summary.json``; the README table reads it)."""
        return [
            {
                "use_case": row.use_case.name,
                "ok": row.ok,
                "seconds": round(row.seconds, 1),
                "failures": row.failures(),
                "summary": row.summary.to_dict() if row.summary else None,
            }
            for row in self.rows
        ]

    def render(self) -> str:
        header = ("use case", "flows ok", "files", "seconds", "failures")
        table = [header]
        for row in self.rows:
            flows = row.summary.flows if row.summary else []
            table.append(
                (
                    f"{row.use_case.code} {row.use_case.name}",
                    f"{sum(f.ok for f in flows)}/{len(flows)}",
                    str(row.summary.files_seeded if row.summary else 0),
                    f"{row.seconds:.1f}",
                    "; ".join(row.failures()) or "-",
                )
            )
        widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
            for line in table
        ]
        lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[-1]))
        failed = [row.use_case.name for row in self.rows if not row.ok]
        lines.append(f"fleet dashboard: {self.dashboard or '-'}")
        lines.append(f"total {self.elapsed_seconds:.1f} s")
        lines.append(
            f"result: all {len(self.rows)} use cases succeeded"
            if self.ok
            else f"result: {len(failed)} of {len(self.rows)} FAILED ({', '.join(failed) or 'none ran'})"
        )
        return "\n".join(lines)


def built_use_cases() -> list[catalog.UseCase]:
    """The use cases that have a template, in catalog order (by number)."""
    return sorted((uc for uc in catalog.USE_CASES if uc.exists), key=lambda uc: uc.number)


def run_fleet(
    files: int,
    *,
    out: Out = print,
    use_cases: list[catalog.UseCase] | None = None,
    drivers: dict[str, Driver | ModuleType] | None = None,
    build_root: Path | None = None,
    pip: Any = None,
) -> Fleet:
    """Run each use case's demo on one local cloud, one after another, and draw the fleet dashboard.

    A use case whose deploy or driver raises is recorded with the error and the next one runs:
    the table then shows every failure at once, and :attr:`Fleet.ok` is false.
    """
    from scripts.localcloud import LocalCloud
    from scripts.packaging import DEFAULT_BUILD_ROOT

    root = build_root or DEFAULT_BUILD_ROOT
    fleet = Fleet()
    started = time.perf_counter()
    with LocalCloud(build_root=root) as cloud:
        for use_case in use_cases or built_use_cases():
            out(f"== {use_case.code} {use_case.name} ==")
            began = time.perf_counter()
            try:
                driver = (drivers or {}).get(use_case.name) or driver_for(use_case)
                volume = (f"{use_case.name}-volume", f"{use_case.name}-ap")
                summary = drive_one(cloud, use_case, driver, files, Step(out), out, pip, volume=volume)
                row = FleetRow(use_case, summary, time.perf_counter() - began)
            except Exception as error:  # reported in the table, and the run exits non-zero
                logger.debug("fleet: %s failed", use_case.name, exc_info=True)
                reason = f"{type(error).__name__}: {error}"
                row = FleetRow(use_case, None, time.perf_counter() - began, reason)
            fleet.rows.append(row)
            out(f"   {use_case.name}: {'ok' if row.ok else 'FAILED'} in {row.seconds:.1f} s")
        out("== the fleet dashboard, from the metrics every use case emitted ==")
        fleet.dashboard = _shown(draw_dashboard(cloud, None, root))
    fleet.elapsed_seconds = time.perf_counter() - started
    rows = root / "fleet" / "summary.json"
    rows.write_text(json.dumps(fleet.to_rows(), indent=2, default=str), encoding="utf-8")
    out(f"   summary: {_shown(rows)} (python -m scripts.catalog table --timings {_shown(rows)})")
    return fleet


def draw_dashboard(cloud: Any, uc: catalog.UseCase | None, build_root: Path) -> Path:
    """Render the shared dashboard's queries over the run's metrics to ``<build>/<uc>/dashboard.png``.

    The searches are evaluated against the local CloudWatch (ListMetrics, GetMetricData); the
    values the run put are recorded beside the picture (``metrics.json``), the input from which
    ``shared/cfn/dashboard-metrics.json`` is refreshed. Without a use case it is the fleet's
    dashboard, every use case at once, under ``<build>/fleet/``.
    """
    from scripts import render_dashboard

    folder = build_root / (uc.name if uc else "fleet")
    points = list(cloud.emf.points)
    note = f"make demo UC={uc.name if uc else 'all'}"
    render_dashboard.write_snapshot(points, folder / "metrics.json", note)
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
