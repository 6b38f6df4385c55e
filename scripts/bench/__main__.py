"""Run every benchmark suite and print its measured ratios: ``python -m scripts.bench [suite …]``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from scripts.bench import SUITES, Report

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="*", default=list(SUITES), help=f"default: {', '.join(SUITES)}")
    args = parser.parse_args(argv)
    report = Report()
    header = f"  {'measure':<52} {'value':>14} {'unit':<10} {'baseline':>14} {'ratio':>9}  target"
    for name in args.suites:
        if name not in SUITES:
            print(f"unknown suite {name!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
        print(f"\n== {name}\n{header}", flush=True)
        report.suite = name
        importlib.import_module(f"scripts.bench.{name}").run(report)
    missed = report.failed_targets()
    print(f"\n{len(report.rows)} figures, {len(missed)} targets missed")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
