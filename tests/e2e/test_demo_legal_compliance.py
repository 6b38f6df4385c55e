"""UC1 legal-compliance end to end on the embedded local cloud, asserting the demo's summary numbers.

The ONTAP stand-in serves the sample volume's ACLs over TLS; Athena runs the rule queries with
DuckDB over the datasets the run wrote; the Converse stand-in writes the report.
"""

from __future__ import annotations

import pytest

from legal_compliance import samples
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("legal-compliance")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="legal-compliance is not built yet"),
]


def _run(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(
        str(UC.path), len(samples.SAMPLES), out=lambda line: None, build_root=build, pip=local_layer_pip
    )


def _every_flow_succeeds_including_the_failure_paths(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "audit run",
        "every rule finds exactly its sample files",
        "an ONTAP 404 is a FAILED result and the run goes on",
        "report written and announced",
        "a second run finds nothing new",
        "a cluster-wide ONTAP error leaves the file for the next run",
        "the pending file is audited by the next run",
    ]


def _every_rule_has_its_findings(summary: Summary) -> None:
    expected = {rule: len(keys) for rule, keys in samples.expected_findings().items()}
    assert summary.extra["findings by rule"] == expected
    assert all(count > 0 for count in expected.values()) and len(expected) == 5


def _each_query_read_one_partition(summary: Summary) -> None:
    scanned = summary.extra["bytes scanned"]
    assert set(scanned) >= {"broad_group_write", "summary_by_share_and_owner", "files_by_share"}
    assert all(0 < value < 100_000 for value in scanned.values())


def _outputs(summary: Summary) -> None:
    assert summary.files_seeded == summary.files_detected == len(samples.SAMPLES)
    assert summary.items_per_state["Analyze"] == summary.items_per_state["Report"] == 1
    keys = summary.output_keys
    for prefix in (
        "datasets/legal/files/dt=",
        "datasets/legal/acl-entries/dt=",
        "datasets/legal/findings/dt=",
    ):
        assert any(k.startswith(prefix) and k.endswith(".jsonl.gz") for k in keys), prefix
    assert any(k.endswith("/report.md") for k in keys) and any(k.endswith("/report.json") for k in keys)
    assert 0 < summary.extra["prompt bytes"] <= 12_000


def test_demo_summary(tmp_path_factory: pytest.TempPathFactory) -> None:
    # One demo run checked from several sides; a single test keeps parallel workers from each
    # running the whole demo.
    summary = _run(tmp_path_factory)
    _every_flow_succeeds_including_the_failure_paths(summary)
    _every_rule_has_its_findings(summary)
    _each_query_read_one_partition(summary)
    _outputs(summary)
