"""The per-claim step: completeness findings, rules with parameter thresholds, a recommendation derived
from the evidence, the cited Converse assessment (schema, one retry, FAILED), one claim file per
evidence set, the dataset row, and no PII in the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from insurance_claims import samples
from insurance_claims.aggregate import assess_run, row
from insurance_claims.assessment import (
    APPROVE,
    DENY,
    NEEDS_INFORMATION,
    REVIEW,
    Evidence,
    Thresholds,
    completeness,
    evidence_version,
    recommend,
    rules,
    run_assessment,
)
from insurance_claims.evidence import EvidenceConfig, SourceFile, process_file
from scripts.localcloud.textract import TextractStandIn
from shared.documents.textract import Classified
from shared.language.extraction import StructuredExtractor
from shared.polling.discovery import discover
from shared.s3ap import S3AccessPoint
from tests.conftest import REGION


def photo(key: str, damage: bool = True) -> Evidence:
    labels = [{"name": "Car", "confidence": 90.0}] + (
        [{"name": "Wreck", "confidence": 80.0}] if damage else []
    )
    return Evidence(
        key,
        '"e1"',
        "photo",
        "SUCCEEDED",
        facts={"labels": labels, "damage_labels": ["Wreck"] if damage else []},
    )


def estimate(key: str, total: float) -> Evidence:
    facts = {"total": total, "currency": "USD", "line_items": [{"item": "Bumper", "amount": total}]}
    return Evidence(key, '"e2"', "estimate", "SUCCEEDED", facts=facts)


def letter(key: str, status: str = "active") -> Evidence:
    return Evidence(
        key, '"e3"', "document", "SUCCEEDED", facts={"policy_number": "POL-123456", "policy_status": status}
    )


DEFAULTS = Thresholds()


def decide(evidence: list[Evidence], thresholds: Thresholds = DEFAULTS) -> tuple[str, list[str]]:
    return recommend(completeness(evidence), rules(evidence, thresholds))


def test_different_evidence_yields_different_recommendations() -> None:
    complete = [photo("c/p.jpg"), estimate("c/estimate.pdf", 1200.0), letter("c/l.pdf")]
    assert decide(complete) == (APPROVE, [])
    assert decide([photo("c/p.jpg"), letter("c/l.pdf")]) == (NEEDS_INFORMATION, ["estimate_present"])
    assert decide([estimate("c/e.pdf", 100.0), letter("c/l.pdf")])[1] == ["photos_present"]
    assert decide([photo("c/p.jpg"), estimate("c/e.pdf", 100.0)]) == (
        NEEDS_INFORMATION,
        ["policy_number_found"],
    )
    assert decide([*complete[:2], letter("c/l.pdf", "lapsed")]) == (DENY, ["policy_active"])
    assert decide([photo("c/p.jpg", damage=False), *complete[1:]]) == (REVIEW, ["damage_shown_in_photos"])
    assert decide([complete[0], estimate("c/e.pdf", 9000.0), complete[2]]) == (
        REVIEW,
        ["estimate_within_auto_approve"],
    )
    assert decide([complete[0], estimate("c/e.pdf", 90000.0), complete[2]])[0] == DENY


def test_thresholds_are_parameters_not_constants() -> None:
    evidence = [photo("c/p.jpg"), estimate("c/e.pdf", 9000.0), letter("c/l.pdf")]
    assert decide(evidence, Thresholds(auto_approve_limit=5000))[0] == REVIEW
    assert decide(evidence, Thresholds(auto_approve_limit=10000))[0] == APPROVE
    assert decide(evidence, Thresholds(auto_approve_limit=100, deny_limit=8000))[0] == DENY


def test_unreadable_files_do_not_count_as_evidence() -> None:
    broken = Evidence("c/p.jpg", '"x"', "photo", "FAILED", "cannot be decoded")
    findings = {f.rule: f.status for f in completeness([broken, estimate("c/e.pdf", 1.0), letter("c/l.pdf")])}
    assert findings == {"photos_present": "FAIL", "estimate_present": "PASS", "policy_number_found": "PASS"}


class FakeBedrock:
    """Converse answers in order; keeps the requests."""

    def __init__(self, *answers: dict[str, Any] | str) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        answer = self.answers.pop(0)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return {
            "output": {"message": {"content": [{"text": text}]}},
            "usage": {"inputTokens": 10, "outputTokens": 5},
        }


EVIDENCE = [photo("claims/C/p.jpg"), estimate("claims/C/estimate.pdf", 800.0), letter("claims/C/l.pdf")]
GOOD = {
    "summary": "Front damage matches the bumper estimate.",
    "consistency": "consistent",
    "cited_evidence": ["claims/C/p.jpg", "claims/C/estimate.pdf"],
}


def _assess(bedrock: FakeBedrock) -> dict[str, Any]:
    findings = [*completeness(EVIDENCE), *rules(EVIDENCE, Thresholds())]
    return run_assessment(
        StructuredExtractor("amazon.nova-lite-v1:0", bedrock), "C", EVIDENCE, findings, APPROVE
    )


def test_a_valid_assessment_cites_real_evidence() -> None:
    bedrock = FakeBedrock(GOOD)
    assessment = _assess(bedrock)
    assert assessment["status"] == "SUCCEEDED" and assessment["attempts"] == 1
    assert assessment["cited_evidence"] == GOOD["cited_evidence"]
    prompt = json.dumps(bedrock.requests[0])
    assert "POL-123456" not in prompt  # the prompt says a policy number is stated, never which


def test_an_invented_citation_is_retried_with_the_errors_then_accepted() -> None:
    bedrock = FakeBedrock({**GOOD, "cited_evidence": ["claims/C/invented.jpg"]}, GOOD)
    assessment = _assess(bedrock)
    assert assessment["status"] == "SUCCEEDED" and assessment["attempts"] == 2
    assert "claims/C/invented.jpg" in assessment["retried_for"][0]
    retry = bedrock.requests[1]["messages"][-1]["content"][0]["text"]
    assert "did not validate" in retry


def test_two_invalid_answers_make_the_assessment_failed_with_the_reason() -> None:
    bedrock = FakeBedrock({**GOOD, "cited_evidence": ["claims/OTHER/p.jpg"]}, "not json at all")
    assessment = _assess(bedrock)
    assert assessment["status"] == "FAILED"
    assert "claim assessment schema after 2 attempts" in assessment["reason"]
    assert len(bedrock.requests) == 2


def test_a_missing_citation_list_is_invalid() -> None:
    assessment = _assess(
        FakeBedrock({"summary": "x", "consistency": "unclear"}, {**GOOD, "cited_evidence": []})
    )
    assert assessment["status"] == "FAILED"


def test_the_evidence_version_is_the_set_of_versions_in_any_order() -> None:
    a = [("k1", '"e1"'), ("k2", '"e2"')]
    assert evidence_version(a) == evidence_version(reversed(a))
    assert evidence_version(a) != evidence_version([("k1", '"e1"'), ("k2", '"e3"')])


# -- the step over moto ---------------------------------------------------------------------------


class AnyClaimBedrock:
    """A valid assessment citing the first evidence id the prompt lists."""

    def __init__(self) -> None:
        self.calls = 0

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        text = kwargs["messages"][0]["content"][0]["text"]
        first = text.split("- id ", 1)[1].split(":", 1)[0]
        answer = {"summary": "ok", "consistency": "consistent", "cited_evidence": [first]}
        return {"output": {"message": {"content": [{"text": json.dumps(answer)}]}}, "usage": {}}


class Labels:
    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        return {"Labels": [{"Name": "Car", "Confidence": 95.0}]}


@pytest.fixture
def world(aws: None) -> Iterator[dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("volume", "output"):
        s3.create_bucket(Bucket=bucket)
    standin = TextractStandIn(
        lambda b, k: bytes(s3.get_object(Bucket=b, Key=k)["Body"].read()), lambda t, m: None
    )
    standin.install()
    try:
        yield {"s3": s3, "source": S3AccessPoint("volume", s3), "output": S3AccessPoint("output", s3)}
    finally:
        standin.uninstall()


def _pipeline(world: dict[str, Any], run_id: str, bedrock: Any) -> dict[str, Any]:
    """Discover, the per-file step for each listed file, then the per-claim step."""
    found = discover(world["source"], world["output"], run_id=run_id, prefix="claims/")
    cfg = EvidenceConfig(
        use_case="insurance-claims", access_point="volume", output_bucket="output", damage_labels="Car"
    )
    from insurance_claims.aggregate import run_files

    for item in run_files(world["output"], found.chunks_key) if found.chunk_count else []:
        process_file(
            world["source"],
            world["output"],
            SourceFile.from_event(item),
            run_id=run_id,
            cfg=cfg,
            rekognition=Labels(),
            textract=Classified(boto3.client("textract", region_name=REGION)),
        )
    if not found.chunk_count:
        return {"claims": 0}
    return assess_run(
        world["source"],
        world["output"],
        run_id=run_id,
        chunks_key=found.chunks_key,
        thresholds=Thresholds(),
        extractor=StructuredExtractor("amazon.nova-lite-v1:0", bedrock),
    )


def test_one_claim_file_per_claim_and_evidence_set_and_no_pii_in_logs(
    world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for sample in samples.files():
        world["s3"].put_object(Bucket="volume", Key=sample.key, Body=sample.make())
    bedrock = AnyClaimBedrock()
    run = _pipeline(world, "run-1", bedrock)
    assert run["by_recommendation"] == {p.recommendation: 1 for p in samples.plan()}
    assert bedrock.calls == 4
    keys = [o["Key"] for o in world["s3"].list_objects_v2(Bucket="output", Prefix="claims/")["Contents"]]
    assert sorted(k.split("/")[1] for k in keys) == sorted(p.claim_id for p in samples.plan())
    for key in keys:  # a claim file holds only its own claim's evidence
        claim = json.loads(world["s3"].get_object(Bucket="output", Key=key)["Body"].read())
        assert {e["id"].split("/")[1] for e in claim["evidence"]} == {claim["claim_id"]}
        assert set(claim["assessment"]["cited_evidence"]) <= {e["id"] for e in claim["evidence"]}
        assert row(claim)["policy_last4"] in (None, "****" + claim["policy_number"][-4:])
    logged = caplog.text
    for secret in (*samples.POLICIES.values(), *samples.HOLDERS.values(), "Northside Auto Body"):
        assert secret not in logged
    # nothing new: nothing processed, no claim assessed again
    assert _pipeline(world, "run-2", bedrock) == {"claims": 0} and bedrock.calls == 4
    # a new file in one claim: only that claim gets a new claim file
    world["s3"].put_object(
        Bucket="volume", Key="claims/CLM-1003/estimate.pdf", Body=samples.files()[2].make()
    )
    run = _pipeline(world, "run-3", bedrock)
    assert run["claims"] == 1 and bedrock.calls == 5
    keys = [
        o["Key"] for o in world["s3"].list_objects_v2(Bucket="output", Prefix="claims/CLM-1003/")["Contents"]
    ]
    assert len(keys) == 2
    assert run["claim_files"][0]["recommendation"] == APPROVE


def test_a_claim_with_a_file_still_without_result_waits(world: dict[str, Any]) -> None:
    world["s3"].put_object(Bucket="volume", Key="claims/C9/a.jpg", Body=samples.damage_photo(1))
    found = discover(world["source"], world["output"], run_id="r", prefix="claims/")
    summary = assess_run(
        world["source"],
        world["output"],
        run_id="r",
        chunks_key=found.chunks_key,
        thresholds=Thresholds(),
        extractor=StructuredExtractor("m", AnyClaimBedrock()),
    )
    assert summary["pending"] == ["C9"] and summary["claim_files"] == []
