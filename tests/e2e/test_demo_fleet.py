"""``make demo UC=all``: every built use case on one local cloud, one table, one fleet dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from scripts import catalog
from scripts.demos import Fleet, FleetRow, Summary, run_fleet
from scripts.localcloud.cloud import local_layer_pip


def _row(name: str, flows: list[tuple[str, bool, str]], seconds: float = 1.0) -> FleetRow:
    summary = Summary(use_case=name, files_seeded=7)
    for flow in flows:
        summary.flow(*flow)
    return FleetRow(catalog.find(name), summary, seconds)


def test_the_table_names_each_failure_with_its_reason_and_the_fleet_fails() -> None:
    fleet = Fleet(
        rows=[
            _row("retail-catalog", [("polling", True, ""), ("stream", True, "")]),
            _row("autonomous-driving", [("polling", True, ""), ("transform", False, "job timed out")]),
            FleetRow(catalog.find("legal-compliance"), None, 0.2, "DeployError: no template"),
        ],
        dashboard="build/fleet/dashboard.png",
    )
    text = fleet.render()
    assert not fleet.ok
    assert "UC11 retail-catalog" in text and "2/2" in text
    assert "1/2" in text and "transform: job timed out" in text
    assert "DeployError: no template" in text
    assert "2 of 3 FAILED (autonomous-driving, legal-compliance)" in text


def test_a_fleet_of_successes_is_ok_and_an_empty_one_is_not() -> None:
    assert Fleet(rows=[_row("retail-catalog", [("polling", True, "")])]).ok
    assert not Fleet().ok


@pytest.mark.e2e
def test_use_cases_share_one_cloud_and_a_failing_one_does_not_stop_the_rest(tmp_path: Path) -> None:
    from autonomous_driving import demo as uc9

    def seed_that_fails(cloud: Any, access_point: Any, files: int) -> int:
        raise RuntimeError("the sample generator ran out of disk")

    broken = SimpleNamespace(parameters=uc9.parameters, seed=seed_that_fails, drive=uc9.drive)
    lines: list[str] = []
    fleet = run_fleet(
        6,
        out=lines.append,
        use_cases=[catalog.find("autonomous-driving"), catalog.find("retail-catalog")],
        drivers={"autonomous-driving": broken},
        build_root=tmp_path,
        pip=local_layer_pip,
    )
    failed, passed = fleet.rows
    assert failed.error == "RuntimeError: the sample generator ran out of disk" and not failed.ok
    assert passed.ok, passed.summary.render() if passed.summary else passed.error
    assert passed.summary is not None and passed.summary.metrics_emitted > 0
    assert not fleet.ok
    assert (tmp_path / "fleet" / "dashboard.png").stat().st_size > 0
    rows = json.loads((tmp_path / "fleet" / "summary.json").read_text(encoding="utf-8"))
    assert [(r["use_case"], r["ok"]) for r in rows] == [
        ("autonomous-driving", False),
        ("retail-catalog", True),
    ]
    assert "== UC11 retail-catalog ==" in lines
