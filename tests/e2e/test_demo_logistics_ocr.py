"""UC12 logistics-ocr end to end on the embedded local cloud, asserting the demo's summary numbers.

Every file of the plan reaches its planned reader, type, extractor and findings, or its typed
FAILED result; the label counts per location add up; the shipments dataset answers Athena; a
second run finds nothing.
"""

from __future__ import annotations

import pytest

from logistics_ocr import samples
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("logistics-ocr")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="logistics-ocr is not built yet"),
]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), 18, out=lambda line: None, build_root=build, pip=local_layer_pip)


def test_every_flow_succeeds(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "every file as planned",
        "Athena over the dataset",
        "a second run finds nothing new",
    ]


def test_every_seeded_file_has_one_result_and_one_dataset_row(summary: Summary) -> None:
    plan = samples.plan()
    assert summary.files_seeded == summary.files_detected == len(plan)
    report = summary.extra["report"]
    assert report["by_status"] == {
        "SUCCEEDED": sum(1 for s in plan if not s.error),
        "FAILED": sum(1 for s in plan if s.error),
    }
    assert report["extracted_by"] == {"rules": 11, "model": 2}
    assert report["failed_findings"] == {"s10_check_digit": 3, "pieces_match_items": 1, "weight_has_unit": 1}
    assert len([k for k in summary.output_keys if k.startswith("results/")]) == len(plan)
    calls = summary.extra["ai calls"]
    assert calls["rekognition.DetectText"] == sum(1 for s in plan if s.reader == "rekognition")
    assert calls["textract.AnalyzeDocument"] == sum(1 for s in plan if s.reader == "textract")


def test_label_counts_per_location_and_athena_over_the_dataset(summary: Summary) -> None:
    assert summary.extra["labels per location"] == {
        "dc-east/aisle-01/bay-02": {"photos": 2, "labels": 8},
        "dc-east/aisle-04/bay-01": {"photos": 1, "labels": 4},
    }
    rows = summary.extra["athena"]
    assert [r["carrier"] for r in rows] == sorted(samples.CARRIERS)
    assert sum(int(r["documents"]) for r in rows) == 10  # waybills, packing lists, labels, bills of lading


def test_the_summary_shows_records_and_named_findings(summary: Summary) -> None:
    lines = {k.removeprefix("doc "): v for k, v in summary.extra.items() if k.startswith("doc ")}
    assert "s10_check_digit" in lines["waybills/2026-11/WB-0002.pdf"]
    assert "[model x2]" in lines["inbound/BOL-0002-retry.pdf"]
    assert lines["inbound/BOL-0003-garbled.pdf"].startswith("FAILED ExtractionError")
    assert lines["labels/IMG_0001.JPG"].startswith("[rekognition] label LX")
