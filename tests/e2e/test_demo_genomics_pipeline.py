"""UC7 genomics-pipeline end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import pytest

from genomics_pipeline import demo as driver
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("genomics-pipeline")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="genomics-pipeline is not built yet"),
]


def _run(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), 14, out=lambda line: None, build_root=build, pip=local_layer_pip)


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    summary = _run(tmp_path_factory)
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "broken files are FAILED with their reason, the rest SUCCEEDED",
        "a BAM header costs a fraction of the file",
        "dataset tables answer the run's summaries",
        "report written",
        "a second run finds nothing new",
    ]
    samples = driver.plan()
    broken = sum(1 for s in samples if s.defect)
    assert summary.files_seeded == summary.files_detected == len(samples)
    assert summary.extra["by_status"] == {"SUCCEEDED": len(samples) - broken, "FAILED": broken}
    assert summary.extra["bam header fraction read"] < 0.25
    # ./. is missing, never homozygous: every sample has missing calls in the demo VCFs.
    assert all(row["missing"] > 0 for row in summary.extra["genotypes by sample"])
    assert summary.extra["datasets"]["files"] == len(samples)
    assert summary.extra["functions invoked"]["QualityControl"] == len(samples)
    assert summary.items_per_state["Summarize"] == summary.items_per_state["Report"] == 1
    results = [k for k in summary.output_keys if k.startswith("results/by-key/")]
    assert len(results) == len(samples)
    assert any(k.endswith("/report.md") for k in summary.output_keys)
