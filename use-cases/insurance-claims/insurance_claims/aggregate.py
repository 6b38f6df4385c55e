"""The per-claim aggregation step: every claim this run touched, one claim file each, one dataset row each.

The run's files come from the manifest chunks Discover wrote (``chunks_key``); their claim ids
(the folder under ``claims/``) are the claims to assess. Each claim is assessed on its own
(:func:`insurance_claims.assessment.assess_claim`), from the results the Evidence step wrote. A
new claim file becomes a row of the ``insurance_claims`` dataset (gzip JSON Lines partitioned by
``dt``, the Glue table the template declares, for Athena); the policy number is kept to its last
four characters there. ``runs/<run_id>/claims.json`` lists the claim files of the run (pointers,
never claim content).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from insurance_claims.assessment import PENDING, Thresholds, assess_claim
from insurance_claims.evidence import NotAClaimFileError, claim_id_of
from shared.analytics import Column, DatasetWriter, RecordSchema
from shared.polling.discovery import Chunk, load_chunk
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

DATASET_ROOT = "datasets"
CLAIMS = RecordSchema(
    "insurance_claims",
    (
        Column("claim_id", "string", nullable=False),
        Column("evidence_version", "string", nullable=False),
        Column("run_id", "string", nullable=False),
        Column("status", "string", nullable=False),
        Column("reason", "string"),
        Column("recommendation", "string", nullable=False),
        Column("decided_by", "string"),
        Column("complete", "boolean"),
        Column("missing", "string"),
        Column("photos", "int"),
        Column("damage_photos", "int"),
        Column("estimate_total", "double"),
        Column("currency", "string"),
        Column("policy_last4", "string"),
        Column("evidence_files", "int"),
        Column("failed_files", "int"),
        Column("cited_evidence", "int"),
        Column("model_attempts", "int"),
    ),
    prefix="insurance/claims",
    description="One row per assessed claim evidence set (UC14).",
    first_date="2026-01-01",
)


def run_files(output: S3AccessPoint, chunks_key: str) -> Iterator[dict[str, Any]]:
    for descriptor in json.loads(output.get_bytes(chunks_key)):
        yield from load_chunk(output, Chunk.from_dict(descriptor))


def last4(value: str | None) -> str | None:
    return f"****{value[-4:]}" if value else None


def row(claim: Mapping[str, Any]) -> dict[str, Any]:
    evidence = claim["evidence"]
    photos = [e for e in evidence if e["kind"] == "photo" and e["status"] == "SUCCEEDED"]
    assessment = claim.get("assessment") or {}
    return {
        "claim_id": claim["claim_id"],
        "evidence_version": claim["evidence_version"],
        "run_id": claim["run_id"],
        "status": claim["status"],
        "reason": claim.get("reason"),
        "recommendation": claim["recommendation"],
        "decided_by": ",".join(claim["decided_by"]) or None,
        "complete": claim["complete"],
        "missing": ",".join(f["rule"] for f in claim["completeness"] if f["status"] == "FAIL") or None,
        "photos": len(photos),
        "damage_photos": sum(1 for e in photos if e["facts"].get("damage_labels")),
        "estimate_total": claim.get("estimate_total"),
        "currency": claim.get("currency"),
        "policy_last4": last4(claim.get("policy_number")),
        "evidence_files": len(evidence),
        "failed_files": sum(1 for e in evidence if e["status"] == "FAILED"),
        "cited_evidence": len(assessment.get("cited_evidence", [])),
        "model_attempts": assessment.get("attempts"),
    }


def claims_of_run(output: S3AccessPoint, chunks_key: str) -> list[str]:
    claims = set()
    for file in run_files(output, chunks_key):
        try:
            claims.add(claim_id_of(str(file["key"])))
        except NotAClaimFileError:
            continue  # its own FAILED result says why
    return sorted(claims)


def assess_run(
    source: S3AccessPoint,
    output: S3AccessPoint,
    *,
    run_id: str,
    chunks_key: str,
    thresholds: Thresholds,
    extractor: Any,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Assess every claim the run touched; returns the run's summary (also at runs/<run_id>/claims.json)."""
    now = now or datetime.now(UTC)
    outcomes: list[dict[str, Any]] = []
    by_recommendation: Counter[str] = Counter()
    with DatasetWriter(output.target, root=DATASET_ROOT, run_id=run_id, client=output.client) as writer:
        for claim_id in claims_of_run(output, chunks_key):
            outcome = assess_claim(
                source, output, claim_id, run_id=run_id, thresholds=thresholds, extractor=extractor
            )
            outcomes.append(outcome)
            if outcome["status"] == PENDING:
                continue
            by_recommendation[outcome["recommendation"]] += 1
            claim = json.loads(output.get_bytes(outcome["claim_file_key"]))
            if claim["run_id"] == run_id:  # written by this run: one dataset row per evidence set
                writer.write(CLAIMS, row(claim), dt=now)
    summary = {
        "run_id": run_id,
        "claims": len(outcomes),
        "by_recommendation": dict(by_recommendation),
        "pending": [o["claim_id"] for o in outcomes if o["status"] == PENDING],
        "claim_files": [o for o in outcomes if o["status"] != PENDING],
        "model_calls": getattr(extractor, "calls", 0),
        "dataset": writer.summary.to_dict(),
        "summary_key": f"runs/{run_id}/claims.json",
    }
    summary_key = f"runs/{run_id}/claims.json"
    output.put(summary_key, json.dumps(summary, indent=1).encode(), content_type="application/json")
    logger.info("run %s: %d claim(s) assessed %s", run_id, len(outcomes), dict(by_recommendation))
    return summary
