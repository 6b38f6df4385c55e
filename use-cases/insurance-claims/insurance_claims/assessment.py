"""A claim's evidence into one assessed claim file: completeness, rules, recommendation, cited assessment.

Per claim (:func:`assess_claim`):

1. **Evidence.** The claim's current file versions (the access point's listing of
   ``claims/<claim-id>/``) and, for each, the version-keyed result the Evidence step wrote
   (:func:`shared.polling.keys.output_key`). A version without a result yet makes the claim
   ``pending``: it is assessed by the run that processes that version.
2. **Completeness**, each a named finding: ``photos_present``, ``estimate_present``,
   ``policy_number_found`` (in any document of the claim).
3. **Rules**, each a named finding, with thresholds that are parameters (:class:`Thresholds`):
   ``policy_active`` (a stated status other than active fails), ``damage_shown_in_photos`` (at
   least one photo has a damage label), ``estimate_within_auto_approve`` (the estimate total is at
   most ``auto_approve_limit``) and ``estimate_within_review_limit`` (at most ``deny_limit``).
4. **Recommendation** (:func:`recommend`), derived from those findings only: ``needs-information``
   when incomplete, ``deny`` when the policy is not active or the total is over the deny limit,
   ``review`` when a damage or amount rule fails, else ``approve``.
5. **Assessment** through Bedrock Converse (:class:`shared.language.extraction.StructuredExtractor`):
   the claim's own JSON schema, whose ``cited_evidence`` items are an ``enum`` of the claim's real
   evidence ids (the file keys), so a citation that is not evidence fails validation; one retry with
   the errors, then the claim file is FAILED with the reason. Citations are checked again after
   validation. The model writes the narrative; it never sets the recommendation.

The claim file is ``claims/<claim-id>/<evidence version>.json`` in the output bucket, where the
evidence version is a hash of the claim's (key, ETag) pairs: one file per claim and evidence set,
never a report that mixes claims. The prompt carries facts (kinds, labels, amounts, statuses), never
the policy number or any document text; logs carry claim ids, counts and the recommendation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from insurance_claims.evidence import CLAIMS_ROOT, ESTIMATE, PHOTO, SUFFIXES, kind_of
from shared.errors import FAILED, SUCCEEDED, ObjectNotFoundError
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

APPROVE, REVIEW, DENY, NEEDS_INFORMATION = "approve", "review", "deny", "needs-information"
RECOMMENDATIONS = (APPROVE, REVIEW, DENY, NEEDS_INFORMATION)
PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "N/A"
COMPLETENESS_RULES = ("photos_present", "estimate_present", "policy_number_found")
ACTIVE_STATUSES = ("active", "inforce", "valid")
CLAIM_FILES = "claims/"
PENDING = "PENDING"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    auto_approve_limit: float = 5000.0
    deny_limit: float = 50000.0


@dataclasses.dataclass(frozen=True)
class Finding:
    rule: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Evidence:
    """One file of the claim: its id (the key), version, kind, status and what the step found."""

    key: str
    etag: str
    kind: str
    status: str
    reason: str = ""
    facts: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_result(cls, document: Mapping[str, Any]) -> Evidence:
        source = document["source"]
        return cls(
            str(source["key"]),
            str(source["etag"]),
            str(document.get("kind") or kind_of(str(source["key"]))),
            str(document["status"]),
            str(document.get("reason") or ""),
            dict(document.get("evidence") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "etag": self.etag,
            "kind": self.kind,
            "status": self.status,
            "reason": self.reason or None,
        }


def evidence_version(files: Iterable[tuple[str, str]]) -> str:
    """The claim's evidence set as one token: a hash of its sorted (key, ETag) pairs."""
    digest = hashlib.sha256()
    for key, etag in sorted(files):
        digest.update(f"{key}\0{etag.strip(chr(34))}\n".encode())
    return digest.hexdigest()[:20]


def claim_file_key(claim_id: str, version: str) -> str:
    return f"{CLAIM_FILES}{claim_id}/{version}.json"


def _usable(evidence: Sequence[Evidence], kind: str) -> list[Evidence]:
    return [e for e in evidence if e.kind == kind and e.status == SUCCEEDED]


def policy_number(evidence: Sequence[Evidence]) -> str | None:
    return next(
        (
            str(e.facts["policy_number"])
            for e in evidence
            if e.status == SUCCEEDED and e.facts.get("policy_number")
        ),
        None,
    )


def estimate_total(evidence: Sequence[Evidence]) -> tuple[float | None, str | None]:
    """The highest total among the claim's readable estimates (a revised estimate supersedes none)."""
    totals = [
        (float(e.facts["total"]), e.facts.get("currency"))
        for e in _usable(evidence, ESTIMATE)
        if e.facts.get("total") is not None
    ]
    if not totals:
        return None, None
    total, currency = max(totals, key=lambda t: t[0])
    return total, (str(currency) if currency else None)


def completeness(evidence: Sequence[Evidence]) -> list[Finding]:
    photos = _usable(evidence, PHOTO)
    estimates = [e for e in _usable(evidence, ESTIMATE) if e.facts.get("total") is not None]
    number = policy_number(evidence)
    return [
        Finding("photos_present", PASS if photos else FAIL, f"{len(photos)} readable photo(s)"),
        Finding(
            "estimate_present",
            PASS if estimates else FAIL,
            f"{len(estimates)} readable estimate(s) with a total",
        ),
        Finding(
            "policy_number_found",
            PASS if number else FAIL,
            "stated in a claim document" if number else "no document states a policy number",
        ),
    ]


def rules(evidence: Sequence[Evidence], thresholds: Thresholds) -> list[Finding]:
    statuses = sorted(
        {
            str(e.facts["policy_status"])
            for e in evidence
            if e.status == SUCCEEDED and e.facts.get("policy_status")
        }
    )
    inactive = [s for s in statuses if s not in ACTIVE_STATUSES]
    photos = _usable(evidence, PHOTO)
    damaged = [e for e in photos if e.facts.get("damage_labels")]
    total, currency = estimate_total(evidence)
    found: list[Finding] = [
        Finding(
            "policy_active",
            FAIL if inactive else (PASS if statuses else NOT_APPLICABLE),
            f"policy status: {', '.join(statuses)}" if statuses else "no document states a policy status",
        ),
        Finding(
            "damage_shown_in_photos",
            (PASS if damaged else FAIL) if photos else NOT_APPLICABLE,
            f"{len(damaged)} of {len(photos)} photo(s) show a damage label",
        ),
    ]
    if total is None:
        found.append(Finding("estimate_within_auto_approve", NOT_APPLICABLE, "no estimate total"))
        found.append(Finding("estimate_within_review_limit", NOT_APPLICABLE, "no estimate total"))
    else:
        money = f"{total:,.2f} {currency or ''}".strip()
        found.append(
            Finding(
                "estimate_within_auto_approve",
                PASS if total <= thresholds.auto_approve_limit else FAIL,
                f"{money} against the auto-approve limit {thresholds.auto_approve_limit:,.2f}",
            )
        )
        found.append(
            Finding(
                "estimate_within_review_limit",
                PASS if total <= thresholds.deny_limit else FAIL,
                f"{money} against the deny limit {thresholds.deny_limit:,.2f}",
            )
        )
    return found


def recommend(complete: Sequence[Finding], checked: Sequence[Finding]) -> tuple[str, list[str]]:
    """The recommendation and the rules that decided it (see the module docstring)."""
    failed: set[str] = {f.rule for f in (*complete, *checked) if f.status == FAIL}
    missing = [rule for rule in COMPLETENESS_RULES if rule in failed]
    if missing:
        return NEEDS_INFORMATION, missing
    denied: list[str] = [rule for rule in ("policy_active", "estimate_within_review_limit") if rule in failed]
    if denied:
        return DENY, denied
    reviewed: list[str] = [
        rule for rule in ("damage_shown_in_photos", "estimate_within_auto_approve") if rule in failed
    ]
    if reviewed:
        return REVIEW, reviewed
    return APPROVE, []


# -- the Converse assessment ----------------------------------------------------------------------


def assessment_schema(evidence_ids: Sequence[str]) -> Any:
    """The claim's own schema: ``cited_evidence`` may only name this claim's evidence ids."""
    from shared.language.extraction import DocumentSchema

    return DocumentSchema(
        "claim assessment",
        {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 2000},
                "damage_description": {"type": "string", "maxLength": 1000},
                "consistency": {"type": "string", "enum": ["consistent", "inconsistent", "unclear"]},
                "cited_evidence": {
                    "type": "array",
                    "items": {"type": "string", "enum": sorted(evidence_ids)},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "concerns": {"type": "array", "items": {"type": "string", "maxLength": 500}},
            },
            "required": ["summary", "consistency", "cited_evidence"],
            "additionalProperties": False,
        },
        instructions=(
            "Assess whether the damage photos, the repair estimate and the policy documents of this "
            "insurance claim are consistent. Cite, in cited_evidence, the ids of the evidence you used "
            "(only ids listed below). The recommendation is made by rules, not by you."
        ),
    )


def evidence_text(
    claim_id: str, evidence: Sequence[Evidence], findings: Sequence[Finding], recommendation: str
) -> str:
    """The facts the model sees: kinds, labels, amounts, statuses and findings (no policy number)."""
    lines = [f"Claim: {claim_id}", f"Rule recommendation: {recommendation}", "Evidence:"]
    for e in evidence:
        if e.status != SUCCEEDED:
            lines.append(f"- id {e.key}: {e.kind}, unreadable ({e.reason[:120]})")
        elif e.kind == PHOTO:
            labels = ", ".join(
                f"{label['name']} ({label['confidence']:.0f}%)" for label in e.facts.get("labels", [])[:10]
            )
            damage = ", ".join(e.facts.get("damage_labels", [])) or "none"
            lines.append(f"- id {e.key}: photo; labels {labels or 'none'}; damage labels {damage}")
        elif e.kind == ESTIMATE:
            items = "; ".join(str(i.get("item")) for i in e.facts.get("line_items", [])[:15])
            money = f"{e.facts.get('total')} {e.facts.get('currency') or ''}".strip()
            lines.append(f"- id {e.key}: repair estimate; total {money}; items {items or 'none'}")
        else:
            status = e.facts.get("policy_status") or "not stated"
            stated = "stated" if e.facts.get("policy_number") else "not stated"
            lines.append(f"- id {e.key}: policy document; policy number {stated}; status {status}")
    lines.append("Findings:")
    lines.extend(f"- {f.rule}: {f.status} ({f.detail})" for f in findings)
    return "\n".join(lines)


def run_assessment(
    extractor: Any,
    claim_id: str,
    evidence: Sequence[Evidence],
    findings: Sequence[Finding],
    recommendation: str,
) -> dict[str, Any]:
    """The validated, cited assessment, or ``{"status": "FAILED", "reason": ...}``."""
    from shared.language.extraction import ExtractionError

    ids = [e.key for e in evidence]
    try:
        extraction = extractor.extract(
            assessment_schema(ids), evidence_text(claim_id, evidence, findings, recommendation)
        )
    except ExtractionError as error:
        logger.warning("claim %s: the assessment did not validate: %s", claim_id, type(error).__name__)
        return {"status": FAILED, "reason": error.reason, "model_id": extractor.model_id}
    cited = list(extraction.data.get("cited_evidence", []))
    unknown = [c for c in cited if c not in ids]
    if unknown:  # the enum makes this unreachable; kept so a schema change cannot let one through
        return {
            "status": FAILED,
            "reason": f"cites evidence the claim does not have: {unknown[:3]}",
            "model_id": extractor.model_id,
        }
    return {
        "status": SUCCEEDED,
        "model_id": extraction.model_id,
        "attempts": extraction.attempts,
        "retried_for": extraction.retried_for,
        "usage": extraction.usage,
        **extraction.data,
    }


# -- one claim ------------------------------------------------------------------------------------


def claim_evidence(
    source: S3AccessPoint, output: S3AccessPoint, claim_id: str
) -> tuple[list[Evidence], list[str]]:
    """The claim's current file versions and their results; the keys still without a result."""
    evidence: list[Evidence] = []
    pending: list[str] = []
    for info in source.iter_objects(f"{CLAIMS_ROOT}{claim_id}/", suffixes=SUFFIXES):
        try:
            document = json.loads(output.get_bytes(output_key(info.key, info.etag)))
        except ObjectNotFoundError:
            pending.append(info.key)
            continue
        evidence.append(Evidence.from_result(document))
    return evidence, pending


def build_claim_file(
    claim_id: str,
    evidence: Sequence[Evidence],
    *,
    run_id: str,
    thresholds: Thresholds,
    extractor: Any,
) -> dict[str, Any]:
    complete = completeness(evidence)
    checked = rules(evidence, thresholds)
    recommendation, decided_by = recommend(complete, checked)
    assessment = run_assessment(extractor, claim_id, evidence, [*complete, *checked], recommendation)
    total, currency = estimate_total(evidence)
    number = policy_number(evidence)
    version = evidence_version((e.key, e.etag) for e in evidence)
    return {
        "claim_id": claim_id,
        "evidence_version": version,
        "claim_file_key": claim_file_key(claim_id, version),
        "run_id": run_id,
        "status": SUCCEEDED if assessment["status"] == SUCCEEDED else FAILED,
        "reason": assessment.get("reason"),
        "complete": all(f.status == PASS for f in complete),
        "completeness": [f.to_dict() for f in complete],
        "rules": [f.to_dict() for f in checked],
        "recommendation": recommendation,
        "decided_by": decided_by,
        "thresholds": dataclasses.asdict(thresholds),
        "estimate_total": total,
        "currency": currency,
        "policy_number": number,
        "evidence": [{**e.to_dict(), "facts": dict(e.facts)} for e in evidence],
        "assessment": assessment,
    }


def assess_claim(
    source: S3AccessPoint,
    output: S3AccessPoint,
    claim_id: str,
    *,
    run_id: str,
    thresholds: Thresholds,
    extractor: Any,
) -> dict[str, Any]:
    """Write the claim's file for its current evidence set (once per set); returns its summary."""
    evidence, pending = claim_evidence(source, output, claim_id)
    if pending or not evidence:
        logger.info("claim %s: %d file(s) still without a result; assessed later", claim_id, len(pending))
        return {"claim_id": claim_id, "status": PENDING, "pending": pending}
    version = evidence_version((e.key, e.etag) for e in evidence)
    key = claim_file_key(claim_id, version)
    try:
        existing = json.loads(output.get_bytes(key))
    except ObjectNotFoundError:
        existing = None
    if existing is not None:
        claim = existing
    else:
        claim = build_claim_file(
            claim_id, evidence, run_id=run_id, thresholds=thresholds, extractor=extractor
        )
        output.put(key, json.dumps(claim, indent=1).encode(), content_type="application/json")
    logger.info(
        "claim %s: %d evidence file(s), recommendation %s", claim_id, len(evidence), claim["recommendation"]
    )
    return {
        k: claim[k]
        for k in ("claim_id", "status", "recommendation", "complete", "claim_file_key", "evidence_version")
    }
