"""UC6 semiconductor-eda end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import pytest

from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip
from semiconductor_eda.samples import plan

UC = catalog.find("semiconductor-eda")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="semiconductor-eda is not built yet"),
]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), 50, out=lambda line: None, build_root=build, pip=local_layer_pip)


def test_every_flow_succeeds(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "broken files get FAILED results naming record and offset",
        "athena summaries per project and report",
        "a second run finds nothing new",
        "a changed library is read again, alone",
    ]


def test_every_design_file_has_a_result_and_nothing_else_is_read(summary: Summary) -> None:
    samples = plan()
    assert summary.files_seeded == len(samples)
    assert summary.files_detected == len(samples)  # README.txt beside them is not a design file
    assert summary.extra["failed files"] == sorted(s.key for s in samples if s.expect == "broken")


def test_projects_and_the_unit_mismatch(summary: Summary) -> None:
    totals = summary.extra["totals"]
    assert totals == {
        "projects": 3,
        "files": 12,
        "readable": 8,
        "failed": 4,
        "cells": 16,
        "findings": 4,
        "unit_mismatches": 1,
    }
    assert summary.extra["unit mismatches"] == ["soc-beta/ANALOG: 0.25 nm vs 1.0 nm"]
    assert str(summary.extra["report"]).endswith("/report.md")
    assert any(key.startswith("reports/") for key in summary.output_keys)
    assert any(key.startswith("datasets/eda/designs/") for key in summary.output_keys)
