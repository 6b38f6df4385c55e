"""UC13 education-research end to end on the embedded local cloud, asserting the demo's summary numbers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from education_research import demo as driver
from education_research import samples
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("education-research")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="education-research is not built yet"),
]

FILES = 14


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Summary, Path]:
    build = tmp_path_factory.mktemp("build")
    summary = run_demo(str(UC.path), FILES, out=lambda line: None, build_root=build, pip=local_layer_pip)
    return summary, build


def test_every_flow_succeeds(run: tuple[Summary, Path]) -> None:
    summary, _ = run
    assert summary.ok, [f for f in summary.flows if not f.ok]
    names = {f.name for f in summary.flows}
    assert "incremental update: two papers replaced, the rest kept" in names
    assert "a second run finds nothing new" in names


def test_numbers(run: tuple[Summary, Path]) -> None:
    summary, _ = run
    broken = len(samples.broken_files())
    assert summary.files_seeded == len(driver.plan(FILES)) == FILES
    assert summary.files_detected == FILES
    assert summary.extra["papers indexed"] == FILES - broken
    assert len(summary.extra["FAILED with reasons"]) == broken
    assert summary.extra["athena papers by language"] == {"en": FILES - broken - 1, "es": 1}
    assert summary.extra["comprehend"]["languages"] == {"en": FILES - broken - 1, "es": 1}
    assert summary.extra["incremental run"]["index papers"] == FILES - broken + 1
    assert "index/papers.sqlite" in summary.output_keys


def test_the_index_is_left_for_make_search(run: tuple[Summary, Path]) -> None:
    _, build = run
    cache = driver.search_cache(build)
    connection = sqlite3.connect(cache)
    try:
        assert (
            connection.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
            == FILES - len(samples.broken_files()) + 1
        )
    finally:
        connection.close()
