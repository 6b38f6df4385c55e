"""UC5 healthcare-dicom end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import pytest

from healthcare_dicom import demo as driver
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("healthcare-dicom")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="healthcare-dicom is not built yet"),
]


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    build = tmp_path_factory.mktemp("build")
    summary: Summary = run_demo(
        str(UC.path), 13, out=lambda line: None, build_root=build, pip=local_layer_pip
    )
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "every file got the outcome its variant calls for",
        "results keyed by SOP Instance UID too",
        "free text checked with Comprehend Medical in the region",
        "headers read through ranged GETs, a small fraction of the files",
        "no PHI value in the copies, UIDs remapped consistently within each study",
        "a second run finds nothing new",
    ]
    samples = driver.plan(13)
    assert summary.files_seeded == summary.files_detected == len(samples)
    results = [k for k in summary.output_keys if k.startswith("results/by-key/")]
    assert len(results) == len(samples)  # IM0001.dcm in every series, each its own result
    copies = summary.extra["de-identified copies"]
    assert copies["copies"] == sum(1 for s in samples if s.expect == "SUCCEEDED" and s.defect != "burned_in")
    assert copies["copies with a PHI value"] == 0
    assert summary.dlq_entries == 0
