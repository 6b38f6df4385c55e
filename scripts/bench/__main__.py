"""Run every benchmark suite and print its measured ratios: ``python -m scripts.bench [suite …]``.

Each suite runs in a fresh interpreter, so one suite's leftovers (moto's in-memory state, patched
clients, a warm import cache) never skew the next one's figures.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import subprocess
import sys

from scripts.bench import SUITES, Report

logger = logging.getLogger(__name__)

HEADER = f"  {'measure':<52} {'value':>14} {'unit':<10} {'baseline':>14} {'ratio':>9}  target"


# A child's exit code: 0 when every target was met, MISSED_BASE + n when n were missed; anything
# else (1 for an uncaught exception) means the suite crashed.
MISSED_BASE = 10


def run_one(name: str) -> int:
    """Run one suite in this process and return the number of targets it missed."""
    report = Report(suite=name)
    print(f"\n== {name}\n{HEADER}", flush=True)
    importlib.import_module(f"scripts.bench.{name}").run(report)
    return len(report.failed_targets())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=f"default: {', '.join(SUITES)}")
    parser.add_argument("--in-process", action="store_true", help="run one suite in this interpreter")
    args = parser.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        print(f"unknown suite(s) {unknown}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    if args.in_process:
        missed_here = sum(run_one(name) for name in args.suites)
        return MISSED_BASE + min(missed_here, 100) if missed_here else 0
    missed = 0
    for name in args.suites:
        child = subprocess.run([sys.executable, "-m", "scripts.bench", "--in-process", name], check=False)
        if child.returncode not in (0, *range(MISSED_BASE + 1, MISSED_BASE + 101)):
            print(f"suite {name} crashed (exit {child.returncode})", file=sys.stderr)
            return 1
        missed += child.returncode - MISSED_BASE if child.returncode else 0
    print(f"\n{len(args.suites)} suites, {missed} targets missed")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
