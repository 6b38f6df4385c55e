"""UC2 financial-idp end to end on the embedded local cloud, asserting the demo's summary numbers.

Every document of the plan reaches its planned route (text layer, sync, async through the SNS
callback and the task token) or its typed FAILED result; the dataset answers Athena; a second run
finds nothing; a Textract job that fails becomes that document's FAILED result.
"""

from __future__ import annotations

import pytest

from financial_idp import samples
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("financial-idp")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="financial-idp is not built yet"),
]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), 13, out=lambda line: None, build_root=build, pip=local_layer_pip)


def test_every_flow_succeeds_including_the_failure_path(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "every document as planned",
        "async Textract jobs through the SNS callback",
        "Athena over the dataset",
        "a second run finds nothing new",
        "a failed Textract job becomes a FAILED result",
    ]
    assert summary.extra["failure path result"].startswith("FAILED Textract.JobFailed")


def test_every_seeded_document_has_one_result_and_one_dataset_row(summary: Summary) -> None:
    plan = samples.plan()
    assert summary.files_seeded == summary.files_detected == len(plan)
    report = summary.extra["report"]
    assert report["by_status"] == {
        "SUCCEEDED": sum(1 for s in plan if not s.error),
        "FAILED": sum(1 for s in plan if s.error),
    }
    assert report["by_mode"] == {
        mode: sum(1 for s in plan if s.mode == mode) for mode in ("text-layer", "sync", "async")
    }
    assert sum(row["documents"] for row in summary.extra["athena"]) == report["by_status"]["SUCCEEDED"]
    results = [key for key in summary.output_keys if key.startswith("results/")]
    assert len(results) == len(plan) + 1  # the failure path's late scan


def test_born_digital_pages_skip_ocr_and_textract_sees_only_scans(summary: Summary) -> None:
    report = summary.extra["report"]
    assert 0 < report["pages_skipping_ocr"] < report["pages"]
    calls = summary.extra["textract calls"]
    assert calls["textract.AnalyzeExpense"] == sum(
        1 for s in samples.plan() if s.mode == "sync" and s.doc_type == "invoice"
    )
    assert calls["textract.StartExpenseAnalysis"] == calls["textract.StartDocumentAnalysis"] == 1
    assert summary.dlq_entries == 0


def test_the_summary_shows_what_was_extracted_without_full_account_numbers(summary: Summary) -> None:
    lines = {k.removeprefix("doc "): v for k, v in summary.extra.items() if k.startswith("doc ")}
    assert "REVIEW: subtotal_plus_tax_equals_total" in lines["invoices/2026-11/INV-00002.pdf"]
    assert "****7002" in lines["statements/2026-10/acct-7002-scan.pdf"]
    assert "12-3456-7002" not in " ".join(lines.values())
    assert lines["inbox/encrypted.pdf"].startswith("FAILED EncryptedDocumentError")
