"""UC8 energy-seismic end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import pytest

from energy_seismic import demo as driver
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("energy-seismic")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="energy-seismic is not built yet"),
]

FILES = 14  # the twelve variants and two extra files


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    build = tmp_path_factory.mktemp("build")
    summary: Summary = run_demo(
        str(UC.path), FILES, out=lambda line: None, build_root=build, pip=local_layer_pip
    )
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "every file got the outcome its variant calls for",
        "SEG-Y read through ranged GETs, a small fraction of the file",
        "athena summaries over the dataset tables",
        "bedrock run report",
        "a second run finds nothing new",
        "a run started during another exits",
    ]
    samples = driver.plan(FILES)
    assert summary.files_seeded == summary.files_detected == FILES == len(samples)
    # One result document per file version: every seeded file and the late log of the overlap check.
    results = [k for k in summary.output_keys if k.startswith("results/by-key/")]
    assert len(results) == FILES + 1
    failed = sum(1 for s in samples if s.expect == "FAILED")
    assert summary.extra["failed files"].count("\n") == failed
    records = summary.extra["dataset records"]
    assert records["inspected_files"] == FILES
    assert records["seismic_surveys"] == sum(1 for s in samples if s.kind == "segy" and s.expect != "FAILED")
    assert records["compliance_findings"] >= 3
    assert any(k.startswith("reports/") and k.endswith("/report.md") for k in summary.output_keys)
    assert summary.dlq_entries == 0
