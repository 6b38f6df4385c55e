"""UC1 legal-compliance on the embedded local cloud: a permission and retention audit, end to end.

The ONTAP stand-in (HTTPS on loopback, its own test CA) is started with the sample volume's ACLs
before the stack is deployed, so the stack gets its endpoint, CA and secret as parameters, as it
would get a cluster's. Four runs:

1. the audit: every sample file's ACL is collected, the datasets written, one Athena query per
   rule runs on DuckDB over them, and Bedrock (the local Converse stand-in) writes the report;
   the file ONTAP answers 404 for is a FAILED result and the run goes on;
2. again: every version has its result, nothing is collected;
3. a new file while ONTAP refuses the credentials once: the file is left for the next run (no
   result), and the analysis counts it as pending;
4. the next run audits it.
"""

from __future__ import annotations

import atexit
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from legal_compliance import samples

logger = logging.getLogger(__name__)

MODEL_ID = "us.amazon.nova-lite-v1:0"  # an inference-profile id: the template scopes IAM to it
_STATE: dict[str, Any] = {}


def _start_ontap(region: str) -> Any:
    import boto3

    from scripts.localcloud.ontap import OntapStandIn

    ontap = OntapStandIn(samples.ontap_seed()).start()
    atexit.register(ontap.stop)  # the driver stops it at the end of drive(); this covers a failed deploy
    secret = boto3.client("secretsmanager", region_name=region).create_secret(
        Name="fsxn-ontap-admin",
        SecretString=json.dumps({"username": ontap.seed.username, "password": ontap.seed.password}),
    )
    ontap.secret_arn = secret["ARN"]
    _STATE["ontap"] = ontap
    return ontap


def parameters(access_point: Any) -> dict[str, str]:
    ontap = _start_ontap(access_point.arn.split(":")[3])
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "OntapEndpoint": ontap.endpoint,
        "OntapSecretArn": ontap.secret_arn,
        "OntapCaBundlePem": ontap.ca_pem,
        "OntapSvmName": samples.SVM,
        "OntapVolumeName": samples.VOLUME,
        "RetentionDays": str(samples.RETENTION_DAYS),
        "SensitivePrefixes": samples.SENSITIVE_PREFIXES,
        "ReportModelId": MODEL_ID,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def _backdate(cloud: Any, bucket: str, key: str, when: datetime) -> None:
    """Give an object of the stand-in volume an older last-modified time (a file's mtime)."""
    from moto.s3.models import s3_backends

    stored = s3_backends[cloud.account_id]["global"].buckets[bucket].keys[key]
    stored.last_modified = when.astimezone(UTC).replace(tzinfo=None)


def _put(cloud: Any, access_point: Any, sample: samples.Sample) -> None:
    cloud.client("s3").put_object(Bucket=access_point.arn, Key=sample.key, Body=samples.body(sample))
    if sample.age_days:
        _backdate(cloud, access_point.bucket, sample.key, datetime.now(UTC) - timedelta(days=sample.age_days))


def seed(cloud: Any, access_point: Any, files: int) -> int:
    """The fixed sample volume (``samples.SAMPLES``, every rule covered), whatever ``files`` asks."""
    for sample in samples.SAMPLES:
        _put(cloud, access_point, sample)
    return len(samples.SAMPLES)


def _print_findings(out: Any, analysis: dict[str, Any]) -> None:
    out("    findings by rule:")
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for finding in analysis["findings"]:
        by_rule.setdefault(str(finding["rule"]), []).append(finding)
    for rule, info in analysis["rules"].items():
        out(f"      {rule} ({info['severity']}): {info['findings']}")
        for finding in by_rule.get(rule, []):
            out(f"        {finding['path']}  [{finding['owner']}]  {finding['detail']}")
    out("    by share and owner:")
    for row in analysis["by_share_and_owner"]:
        out(
            f"      {row['share']:<10} {row['owner']:<40} {row['findings']} finding(s) {row['files']} file(s)"
        )
    out("    not audited:")
    for row in analysis["unaudited"]:
        out(f"      {row['path']}: {row['status']} {row['error']}: {row['reason']}")
    out("    bytes scanned per query (one dt partition):")
    for query in analysis["queries"]:
        out(f"      {query['query']:<28} {query['bytes_scanned']:>7} B  {query['rows']} row(s)")


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    ontap = _STATE["ontap"]
    try:
        _drive(cloud, stack, access_point, summary, step, ontap)
    finally:
        ontap.stop()


def _drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any, ontap: Any) -> None:
    out = step.out if hasattr(step, "out") else print
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the audit schedule and wait for the run"):
        firings = cloud.tick("PipelineSchedule")
        results = cloud.wait_for_executions(timeout_seconds=300)
        result = results[0] if results else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("audit run", ok, detail)
    if result is None or not result.succeeded:
        return
    summary.items_per_state = dict(result.states_entered())
    report = result.output if isinstance(result.output, dict) else {}
    analysis = cloud.read_json(bucket, f"runs/{result.name}/analysis.json")
    summary.files_detected = int(analysis["totals"]["files"])
    with step("the findings (Athena on DuckDB over the run's datasets)"):
        _print_findings(out, analysis)
        expected = {rule: sorted(keys) for rule, keys in samples.expected_findings().items()}
        found: dict[str, list[str]] = {}
        for finding in analysis["findings"]:
            found.setdefault(str(finding["rule"]), []).append(str(finding["path"]))
        found = {rule: sorted(paths) for rule, paths in found.items()}
        summary.flow("every rule finds exactly its sample files", found == expected, json.dumps(found)[:200])
        failed = [row["path"] for row in analysis["unaudited"] if row["status"] == "FAILED"]
        summary.flow(
            "an ONTAP 404 is a FAILED result and the run goes on",
            failed == [samples.MISSING_IN_ONTAP]
            and analysis["totals"]["audited"] == len(samples.SAMPLES) - 1,
            ", ".join(failed),
        )
    with step("the report (Bedrock Converse stand-in, aggregates only) and its notification"):
        markdown = cloud.client("s3").get_object(
            Bucket=bucket, Key=report["report_markdown"].split("/", 3)[3]
        )
        text = markdown["Body"].read().decode()
        out("    " + report["report_markdown"])
        out("    " + report["console_url"])
        for line in text.splitlines()[:12]:
            out("    | " + line)
        summary.flow(
            "report written and announced",
            report.get("notification", {}).get("status") == "SENT" and text.startswith("# "),
            f"{report.get('prompt_bytes')} prompt bytes, model {report.get('model_id')}",
        )
    summary.extra["findings by rule"] = {rule: info["findings"] for rule, info in analysis["rules"].items()}
    summary.extra["bytes scanned"] = {q["query"]: q["bytes_scanned"] for q in analysis["queries"]}
    summary.extra["report"] = report.get("report_markdown")
    summary.extra["prompt bytes"] = report.get("prompt_bytes")
    with step("run again: every file version has its result, so nothing is collected"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    with step("a new file while ONTAP refuses the credentials once: it waits for the next run"):
        _put(cloud, access_point, samples.LATE)
        ontap.fail_next(401, count=1)
        refused = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        pending = cloud.read_json(bucket, f"runs/{refused.name}/analysis.json") if refused.succeeded else {}
        pending_paths = [row["path"] for row in pending.get("unaudited", []) if row["status"] == "PENDING"]
        summary.flow(
            "a cluster-wide ONTAP error leaves the file for the next run",
            refused.succeeded and pending_paths == [samples.LATE_ARRIVAL],
            f"{refused.status}, pending {pending_paths}",
        )
    with step("the next run audits it"):
        healed = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        done = cloud.read_json(bucket, f"runs/{healed.name}/analysis.json") if healed.succeeded else {}
        audited = (done.get("totals") or {}).get("audited")
        summary.flow(
            "the pending file is audited by the next run",
            healed.succeeded and audited == 1,
            f"{healed.status}, audited {audited}",
        )
    summary.extra["runs"] = 4
    keys: list[str] = []
    for prefix in (f"runs/{result.name}/", f"reports/{result.name}/", "datasets/legal/"):
        for page in (
            cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
