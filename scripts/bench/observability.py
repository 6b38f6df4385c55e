"""Cold-start cost of the logging convention: JSON logs through Powertools versus the standard library.

Each figure is the median over fresh interpreters, run alternately so that both sides see the same
machine load: the time to import ``shared.observability`` and build the formatter every function
configures on its first invocation, once with Powertools' JSON formatter (what the functions use)
and once with the standard library's ``logging.Formatter`` (what they would use without it).
Byte code is not cached, as on Lambda, whose read-only task root keeps no ``.pyc`` of the layer's
first import either.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
from pathlib import Path

from scripts.bench import Report

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RUNS = 9

_PROBE = """
import json, sys, time
started = time.perf_counter()
import logging
from shared import observability
if sys.argv[1] == "powertools":
    formatter = observability.json_formatter()
else:
    formatter = logging.Formatter()
record = logging.LogRecord("bench", logging.INFO, "bench.py", 1, "ready", None, None)
formatter.format(record)
print(json.dumps({"seconds": time.perf_counter() - started,
                  "powertools": "aws_lambda_powertools" in sys.modules}))
"""


def _once(variant: str) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "USE_CASE": "bench"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, variant], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["powertools"] != (variant == "powertools"):
        raise RuntimeError(f"the {variant} probe imported the wrong formatter: {figures}")
    seconds: float = figures["seconds"]
    return seconds


def run(report: Report) -> None:
    with_powertools: list[float] = []
    without: list[float] = []
    for _ in range(RUNS):
        without.append(_once("stdlib"))
        with_powertools.append(_once("powertools"))
    base = statistics.median(without) * 1000
    value = statistics.median(with_powertools) * 1000
    report.add("logging setup, standard library formatter", base, "ms")
    report.add(
        "logging setup, Powertools JSON formatter",
        value,
        "ms",
        baseline=base,
        target="reported, no target: paid once per cold start",
    )
    report.add("Powertools' share of the cold start", value - base, "ms")
