"""UC3 manufacturing-analytics end to end on the embedded local cloud, asserting the demo's summary.

One run processes every sample (sensor logs into readings and anomalies, images into inspection
rows, broken files into FAILED results), the report step runs the real SQL on DuckDB and writes the
Bedrock report; a second run finds nothing new; the driver shows partition pruning.
"""

from __future__ import annotations

import pytest

from manufacturing_analytics import samples
from manufacturing_analytics.demo import sample_day
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("manufacturing-analytics")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="manufacturing-analytics is not built yet"),
]


def _expected() -> dict[str, int]:
    files = samples.generate(sample_day(), big=True)
    return {
        "files": len(files),
        "sensor_ok": sum(1 for f in files if f.kind == "sensor" and f.expect != "failed"),
        "sensor_failed": sum(1 for f in files if f.kind == "sensor" and f.expect == "failed"),
        "image_ok": sum(1 for f in files if f.kind == "image" and f.expect != "failed"),
        "image_failed": sum(1 for f in files if f.kind == "image" and f.expect == "failed"),
        "defects": sum(1 for f in files if f.expect == "defect"),
    }


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    summary: Summary = run_demo(
        str(UC.path),
        0,
        out=lambda line: None,
        build_root=tmp_path_factory.mktemp("build"),
        pip=local_layer_pip,
    )
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "report with real queries",
        "a second run finds nothing new",
        "partition pruning",
    ]
    expected = _expected()
    assert summary.files_seeded == summary.files_detected == expected["files"]
    assert summary.extra["run counts"] == {
        "image:FAILED": expected["image_failed"],
        "image:SUCCEEDED": expected["image_ok"],
        "image:defect": expected["defects"],
        "sensor:FAILED": expected["sensor_failed"],
        "sensor:SUCCEEDED": expected["sensor_ok"],
    }
    # Every defective sample is found and no normal one is flagged: the rates add up to the defects.
    rates = summary.extra["defect rate by line and shift"]
    assert sum(int(r.split(": ")[1].split("/")[0]) for r in rates) == expected["defects"]
    assert sum(int(r.split("/")[2].split(" ")[0]) for r in rates) == expected["image_ok"]
    # press-01: 3 spikes, lathe-02: 1, robot-03: 1 (samples.py).
    anomalies = summary.extra["anomalies by machine and day"]
    per_machine: dict[str, int] = {}
    for row in anomalies:
        machine, rest = row.split(" ", 1)
        per_machine[machine] = per_machine.get(machine, 0) + int(rest.split(": ")[1])
    assert per_machine == {"press-01": 3, "lathe-02": 1, "robot-03": 1}
    failures = summary.extra["run failures"]
    assert len(failures) == expected["sensor_failed"] + expected["image_failed"]
    assert summary.extra["report"]["notification"] == "SENT"
    assert str(summary.extra["report"]["markdown"]).endswith("/report.md")
    pruning = summary.extra["bytes scanned"]
    assert 0 < pruning["one day"] < pruning["no partition filter"]
    assert summary.items_per_state["Report"] == 1
    assert summary.extra["functions invoked"]["Report"] == 1
