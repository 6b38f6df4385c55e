"""The demo machinery end to end on the local-cloud fixture use case, asserting the summary numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.__main__ import main
from scripts.localcloud.cloud import local_layer_pip
from tests.fixtures.localcloud_fixture import FIXTURE, driver

pytestmark = pytest.mark.e2e


def test_fixture_demo_summary_numbers(tmp_path: Path) -> None:
    lines: list[str] = []
    summary: Summary = run_demo(
        str(FIXTURE), 12, out=lines.append, driver=driver(), build_root=tmp_path, pip=local_layer_pip
    )
    assert summary.ok, summary.render()
    assert summary.files_seeded == 12
    # 11 good files reach the polling Map; the poison file is left out of its prefix.
    assert summary.files_detected == 11
    assert summary.items_per_state == {"Discover": 1, "Process": 1, "Work": 11}
    # 12 records in batches of 10: 10, then [file-011, poison], then the poison twice more (2 retries).
    assert summary.events_streamed == 14
    assert summary.dlq_entries == 1
    assert summary.output_keys == ["results/frame-1.bin.out"]
    # trace_lambda_handler emits 5 metrics per invocation.
    assert summary.metrics_emitted > 0
    assert summary.metrics_emitted % 5 == 0
    assert [flow.name for flow in summary.flows] == [
        "producer schedule",
        "stream consumer",
        "polling state machine",
        "sagemaker callback",
    ]
    assert any(line.startswith("[2] package and deploy") and " ok (" in line for line in lines)
    rendered = summary.render()
    assert "DLQ entries           1" in rendered
    assert rendered.endswith("result: all flows succeeded")


def test_demo_of_a_use_case_that_is_not_built_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every catalogued use case is built, so a planned one joins the catalog for this test only.
    planned = catalog.UseCase(15, "planned-example", "Testing", "use-cases/planned-example", "Not built.")
    assert not planned.exists
    monkeypatch.setattr(catalog, "ALL", (*catalog.ALL, planned))
    assert main(["demo", planned.name]) == 2
    assert "planned-example (UC15) is not built yet" in capsys.readouterr().err


def test_demo_of_an_unknown_use_case_fails_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "no-such-uc"]) == 2
    assert "unknown use case" in capsys.readouterr().err
