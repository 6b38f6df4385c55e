"""UC14 insurance-claims on the embedded local cloud: claim files into one assessed claim file per claim.

The demo seeds four claims (``insurance_claims.samples.plan``): one to approve (small born-digital
estimate, active policy), one to review (image-only estimate over the auto-approve limit, read by
synchronous AnalyzeExpense), one missing its estimate (needs-information, with a truncated photo),
and one whose policy has lapsed (deny, with an empty PDF, an encrypted estimate and a PDF named
.jpg). Runs: the first processes every file and assesses every claim; the second finds nothing;
an Athena query (DuckDB locally) counts the claims by recommendation; the last adds the missing
estimate to the incomplete claim, which gets a new claim file (a new evidence version) while the
others are untouched. Rekognition, Textract and Converse answer through the local stand-ins.
"""

from __future__ import annotations

import logging
from typing import Any

from insurance_claims import samples
from shared.formats.samples import documents as docs

logger = logging.getLogger(__name__)

LATE_ESTIMATE = "claims/CLM-1003/estimate.pdf"
# The local DetectLabels stand-in answers from a retail/street vocabulary; these count as damage here.
DEMO_DAMAGE_LABELS = "Car,Vehicle,Road,Building,Outdoors,Text,Person,Electronics,Furniture,Lamp,Bottle,Toy"


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
        "DamageLabels": DEMO_DAMAGE_LABELS,
        "MinLabelConfidence": "55",
    }


def seed(cloud: Any, access_point: Any, files: int) -> int:
    """Write every file of the plan (each is a variant the demo checks)."""
    s3 = cloud.client("s3")
    planned = samples.files()
    for sample in planned:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.make())
    return len(planned)


def _show(claim: dict[str, Any]) -> str:
    """One line for a claims handler: completeness, evidence, recommendation (policy: last 4 only)."""
    missing = [f["rule"] for f in claim["completeness"] if f["status"] == "FAIL"]
    kinds: dict[str, int] = {}
    for e in claim["evidence"]:
        name = e["kind"] if e["status"] == "SUCCEEDED" else "unreadable"
        kinds[name] = kinds.get(name, 0) + 1
    total = claim.get("estimate_total")
    policy = claim.get("policy_number")
    cited = claim["assessment"].get("cited_evidence", [])
    return (
        f"{claim['recommendation'].upper()} ({', '.join(claim['decided_by']) or 'every rule passed'}); "
        f"{'complete' if not missing else 'missing ' + ', '.join(missing)}; evidence {kinds}; "
        f"estimate {f'{total:,.2f} ' + str(claim.get('currency') or '') if total is not None else 'none'}; "
        f"policy {'****' + policy[-4:] if policy else 'none'}; assessment {claim['assessment']['status']} "
        f"citing {len(cited)} file(s)"
    )


def _athena(cloud: Any, stack: Any) -> list[dict[str, Any]]:
    from shared.analytics import AthenaRunner, AthenaSettings

    database = stack.outputs.get("GlueDatabaseName") or stack.created.get("GlueDatabase", "")
    workgroup = stack.outputs.get("AthenaWorkGroupName") or stack.created.get("AthenaWorkGroup", "")
    runner = AthenaRunner(
        AthenaSettings(workgroup=workgroup, database=database), client=cloud.client("athena")
    )
    result = runner.run(CLAIMS_BY_RECOMMENDATION, deadline_seconds=60)
    return list(result.rows)


CLAIMS_BY_RECOMMENDATION = (
    "SELECT recommendation, count(*) AS claims, sum(estimate_total) AS estimated "
    "FROM insurance_claims GROUP BY recommendation ORDER BY recommendation"
)


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        runs = cloud.wait_for_executions(timeout_seconds=300)
        result = runs[0] if runs else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        summary.flow(
            "pipeline state machine",
            ok,
            f"{result.status} {result.error or ''}".strip() if result else "none",
        )
    if result is None:
        return
    summary.items_per_state = dict(result.states_entered())
    run = cloud.read_json(bucket, f"runs/{result.name}/claims.json")
    summary.files_detected = sum(1 for key in cloud.list_keys(bucket, "results/"))
    with step("check every claim and every broken file against the plan"):
        problems = []
        for claim_plan in samples.plan():
            keys = cloud.list_keys(bucket, f"claims/{claim_plan.claim_id}/")
            if len(keys) != 1:
                problems.append(f"{claim_plan.claim_id}: {len(keys)} claim file(s)")
                continue
            claim = cloud.read_json(bucket, keys[0])
            summary.extra[f"claim {claim_plan.claim_id}"] = _show(claim)
            if claim["recommendation"] != claim_plan.recommendation or claim["status"] != "SUCCEEDED":
                got = f"{claim['recommendation']} {claim['status']}"
                problems.append(f"{claim_plan.claim_id}: {got} (want {claim_plan.recommendation})")
            ids = {e["id"] for e in claim["evidence"]}
            if not set(claim["assessment"].get("cited_evidence", [])) <= ids:
                problems.append(f"{claim_plan.claim_id}: cites evidence it does not have")
            for sample in claim_plan.files:
                found = next((e for e in claim["evidence"] if e["id"] == sample.key), None)
                want = "FAILED" if sample.error else "SUCCEEDED"
                if found is None or found["status"] != want:
                    problems.append(f"{sample.key}: {found and found['status']} (want {want})")
        summary.flow("every claim as planned", not problems, "; ".join(problems[:3]))
    summary.extra["run"] = {k: run.get(k) for k in ("claims", "by_recommendation", "model_calls")}
    with step("query the insurance_claims dataset with Athena: claims by recommendation"):
        rows = _athena(cloud, stack)
        summary.extra["athena"] = rows
        summary.flow(
            "Athena: claims by recommendation",
            {r["recommendation"] for r in rows} == {"approve", "review", "deny", "needs-information"},
            f"{len(rows)} row(s)",
        )
    with step("run again: every version has its result and every claim its file, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        summary.flow(
            "a second run finds nothing new",
            again.succeeded and again.states_entered().get("NothingToDo") == 1,
            again.status,
        )
    with step("add the missing estimate to CLM-1003: a new claim file for its new evidence set"):
        cloud.client("s3").put_object(
            Bucket=access_point.arn,
            Key=LATE_ESTIMATE,
            Body=docs.text_pdf([samples.estimate_page(3, 2, policy=samples.POLICIES["CLM-1003"])]),
        )
        late = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        files = cloud.list_keys(bucket, "claims/CLM-1003/")
        newest = max((cloud.read_json(bucket, k) for k in files), key=lambda c: c["run_id"] == late.name)
        others = all(
            len(cloud.list_keys(bucket, f"claims/{c}/")) == 1 for c in ("CLM-1001", "CLM-1002", "CLM-1004")
        )
        summary.extra["claim CLM-1003 after its estimate"] = _show(newest)
        summary.flow(
            "a new estimate gives the claim a new claim file",
            late.succeeded and len(files) == 2 and newest["recommendation"] != "needs-information" and others,
            f"{len(files)} claim file(s) for CLM-1003, now {newest['recommendation']}",
        )
    summary.extra["runs"] = 3
    summary.extra["ai calls"] = dict(dict(cloud.textract.calls).items())
    summary.output_keys = [
        key for prefix in ("results/", "claims/", "datasets/") for key in cloud.list_keys(bucket, prefix)
    ]
