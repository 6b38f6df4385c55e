"""UC4 media-vfx end to end on the embedded local cloud, asserting the demo's summary numbers.

The re-render is on: the missing and bad frames go to the Deadline Cloud stand-in as an Open Job
Description job, the Wait/Choice loop follows it, and the re-rendered frames are checked again.
"""

from __future__ import annotations

import pytest

from media_vfx import samples
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("media-vfx")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="media-vfx is not built yet"),
]


def _run(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), 0, out=lambda line: None, build_root=build, pip=local_layer_pip)


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    # One demo run checked from several sides; a single test keeps parallel workers from each
    # running the whole demo.
    summary = _run(tmp_path_factory)
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "sequence reports with proxy and contact sheet",
        "re-render on Deadline Cloud and recheck",
        "nothing but re-rendered frames reached the volume",
        "a second run finds nothing new",
        "a non-OpenJD template is rejected",
        "a failed render job is reported, not passed",
    ]
    assert summary.files_seeded == len(samples.plan())
    table = summary.extra["sequences"]
    assert table["sh010_comp.####.exr"] | {"labels": []} == {
        "frames": 11,
        "missing": [1005],
        "duplicates": [],
        "black": 1,
        "nan_inf": 1,
        "out_of_range": 1,
        "unreadable": 1,
        "header_mismatches": 0,
        "size_outliers": 2,
        "not_checked": 0,
        "rerender": "1003,1005,1007,1009-1010",
        "labels": [],
    }
    assert table["sh020_beauty.####.exr"]["duplicates"] == ["4"]
    assert table["sh020_beauty.####.exr"]["header_mismatches"] == 1
    assert table["sh030_plate.####.dpx"]["missing"] == [4]
    # One job per sequence with frames to re-render; every requested frame came back clean.
    assert sorted(summary.extra["deadline jobs"].values()) == ["SUCCEEDED"] * 3
    assert summary.extra["recheck"] == {"render_state": "SUCCEEDED", "frames_fixed": 7, "frames_still_bad": 0}
    assert summary.extra["failure path render state"] == "FAILED"
    assert all(size < 5 * 1024 * 1024 for size in summary.extra["proxy bytes"])
    assert summary.items_per_state["SubmitRender"] == 1 and summary.items_per_state["Recheck"] == 1
    assert any(k.startswith("sequences/") and k.endswith("/contact-sheet.jpg") for k in summary.output_keys)
    assert summary.dlq_entries == 0
