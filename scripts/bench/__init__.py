"""Benchmarks behind ``make bench``: each module measures a target beside its baseline, in one run.

A benchmark module exposes ``run(report: Report) -> None`` and is listed in :data:`SUITES`. Speed
and memory targets live here, never as timed assertions in tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# Module names under scripts.bench, run in this order.
SUITES: tuple[str, ...] = (
    "localcloud",
    "packaging",
    "observability",
    "change_detection",
    "polling",
    "stream_faults",
    "pointcloud",
    "analytics",
    "media",
    "eda",
    "legal_compliance",
    "seismic",
    "dicom",
    "language",
    "documents",
    "genomics",
    "manufacturing",
    "claims",
    "logistics",
)


@dataclass
class Row:
    """One measured figure, with an optional baseline and target for the ratio."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


@dataclass
class Report:
    """Collects rows and prints them as one table per suite."""

    rows: list[tuple[str, Row]] = field(default_factory=list)
    suite: str = ""

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        baseline: float | None = None,
        target: str = "",
        met: bool | None = None,
    ) -> Row:
        row = Row(name, value, unit, baseline, target, met)
        self.rows.append((self.suite, row))
        print(_format(row), flush=True)
        return row

    def failed_targets(self) -> list[Row]:
        return [row for _, row in self.rows if row.met is False]


def _format(row: Row) -> str:
    ratio = f"{row.ratio:8.3f}x" if row.ratio is not None else " " * 9
    base = f"{row.baseline:>14,.3f}" if row.baseline is not None else " " * 14
    verdict = {True: "met", False: "MISSED", None: ""}[row.met]
    return f"  {row.name:<52} {row.value:>14,.3f} {row.unit:<10} {base} {ratio}  {row.target} {verdict}"


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Yields a function returning the seconds elapsed since entry (frozen at exit)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())
