"""Cold-start imports of the retail functions: heavy or unused modules stay out until they are used.

The import time itself is a benchmark (``make bench``, suite ``packaging``); this test pins down
the structure that keeps it low, so a stray top-level import shows up as a failure here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scripts.catalog import ROOT

FUNCTIONS = ROOT / "retail-catalog" / "functions"

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_import(function: str) -> set[str]:
    path = os.pathsep.join([str(ROOT), str(ROOT / "retail-catalog")])
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(FUNCTIONS / function)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "function",
    ["discovery", "image_tagging", "catalog_metadata", "quality_check", "stream_producer", "stream_consumer"],
)
def test_no_function_imports_pillow_at_module_level(function: str) -> None:
    modules = _modules_after_import(function)
    assert "handler" in modules
    assert not {m for m in modules if m == "PIL" or m.startswith("PIL.")}


def test_the_consumer_does_not_load_the_change_detection_engine() -> None:
    modules = _modules_after_import("stream_consumer")
    assert {"shared.change_events", "retail_catalog.pipeline", "shared.state"} <= modules
    assert "shared.changes" not in modules and "shared.streaming" not in modules


def test_polling_functions_do_not_load_the_whole_retail_domain() -> None:
    discovery = _modules_after_import("discovery")
    assert "shared.polling.discovery" in discovery
    assert not {"retail_catalog.pipeline", "retail_catalog.tagging", "retail_catalog.metadata"} & discovery
    metadata = _modules_after_import("catalog_metadata")
    assert "shared.polling.discovery" not in metadata and "retail_catalog.pipeline" not in metadata
