"""UC10 construction-bim end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import pytest

from construction_bim.samples import plan
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("construction-bim")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="construction-bim is not built yet"),
]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), 10, out=lambda line: None, build_root=build, pip=local_layer_pip)


def test_every_flow_succeeds(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "every file has the outcome it should",
        "the 48-inch sheet is refused before Textract",
        "a second run finds nothing new",
        "revision diff by GlobalId",
    ]


def test_what_a_coordinator_sees(summary: Summary) -> None:
    assert summary.files_seeded == summary.files_detected == len(plan())
    assert summary.extra["project"] == ["Résidence Tower A", "Eight storeys of offices over retail"]
    assert summary.extra["rules"] == {"door_without_fire_rating": 2, "storey_without_elevation": 1}
    assert summary.extra["revision diff"] == {
        "added_by_type": {"IFCDOOR": 2},
        "removed_by_type": {"IFCWINDOW": 1},
        "changed_by_type": {"IFCRELDEFINESBYPROPERTIES": 1, "IFCWALL": 1},
    }
