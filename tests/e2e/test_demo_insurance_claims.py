"""UC14 insurance-claims end to end on the embedded local cloud, asserting the demo's summary.

Every claim gets one claim file with its planned recommendation (approve, review,
needs-information, deny) and a cited assessment; every broken file is a FAILED piece of evidence;
Athena counts the claims by recommendation; a second run finds nothing; a new estimate gives the
incomplete claim a second claim file and leaves the others alone.
"""

from __future__ import annotations

import pytest

from insurance_claims import samples
from scripts import catalog
from scripts.demos import Summary, run_demo
from scripts.localcloud.cloud import local_layer_pip

UC = catalog.find("insurance-claims")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not UC.exists, reason="insurance-claims is not built yet"),
]


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    build = tmp_path_factory.mktemp("build")
    return run_demo(str(UC.path), 16, out=lambda line: None, build_root=build, pip=local_layer_pip)


def test_every_flow_succeeds(summary: Summary) -> None:
    assert summary.ok, summary.render()
    assert [flow.name for flow in summary.flows] == [
        "pipeline state machine",
        "every claim as planned",
        "Athena: claims by recommendation",
        "a second run finds nothing new",
        "a new estimate gives the claim a new claim file",
    ]


def test_each_claim_shows_its_completeness_evidence_and_recommendation(summary: Summary) -> None:
    assert summary.files_seeded == summary.files_detected == len(samples.files())
    for plan in samples.plan():
        line = summary.extra[f"claim {plan.claim_id}"]
        assert line.startswith(plan.recommendation.upper())
        assert "assessment SUCCEEDED citing" in line
    assert "missing estimate_present" in summary.extra["claim CLM-1003"]
    assert summary.extra["claim CLM-1003 after its estimate"].startswith("APPROVE")
    assert summary.extra["run"]["by_recommendation"] == {p.recommendation: 1 for p in samples.plan()}


def test_athena_counts_claims_by_recommendation_and_no_full_policy_number_is_shown(summary: Summary) -> None:
    rows = {row["recommendation"]: row["claims"] for row in summary.extra["athena"]}
    assert rows == {p.recommendation: 1 for p in samples.plan()}
    shown = " ".join(str(v) for v in summary.extra.values())
    assert not any(policy in shown for policy in samples.POLICIES.values())
    assert summary.extra["ai calls"] == {"textract.AnalyzeExpense": 1}
