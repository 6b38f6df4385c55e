"""UC12 logistics-ocr on the embedded local cloud: shipping documents and photos into records.

The demo seeds every variant the pipeline claims (``logistics_ocr.samples.plan``): born-digital
waybills and a packing list read from their text layer, image-only PDFs read by Textract page by
page, label photos (JPEG/PNG, under folders named ``labels/``, ``images/`` and ``scans/``, one with
an upper-case ``.JPG``) read by Rekognition DetectText, bills of lading the label rules cannot read
that Bedrock Converse extracts against the shipment schema (one needs the retry, one never gives
a valid answer and is FAILED), inventory photos whose labels are counted per location, and broken
files (truncated PDF and JPEG, an encrypted PDF, a JPEG named .png).

Runs: the first processes every file (one result per version, the dataset rows, the report with
the label counts per location); an Athena query (DuckDB locally) reads the dataset; the second
run finds nothing new. Textract, Rekognition and Converse answers come from the local stand-ins,
derived from the text each sample really shows.
"""

from __future__ import annotations

import logging
from typing import Any

from logistics_ocr import samples

logger = logging.getLogger(__name__)


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def seed(cloud: Any, access_point: Any, files: int) -> int:
    """Write the plan's files (all of them: each is a variant the demo checks)."""
    s3 = cloud.client("s3")
    plan = samples.plan()
    for sample in plan:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.make())
    return len(plan)


def results(cloud: Any, bucket: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    paginator = cloud.client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix="results/"):
        for obj in page.get("Contents", []):
            document = cloud.read_json(bucket, obj["Key"])
            out[document["source"]["key"]] = document
    return out


def mismatches(found: dict[str, dict[str, Any]]) -> list[str]:
    """Every way the results differ from the plan (empty: as planned)."""
    problems = []
    for sample in samples.plan():
        document = found.get(sample.key)
        if document is None:
            problems.append(f"{sample.key}: no result")
            continue
        if sample.error:
            if document["status"] != "FAILED" or document.get("error") != sample.error:
                problems.append(
                    f"{sample.key}: {document['status']} {document.get('error')} (want {sample.error})"
                )
            continue
        failed = tuple(sorted(f["rule"] for f in document.get("findings", []) if f["status"] == "FAIL"))
        got = (
            document["status"],
            document.get("document", {}).get("type"),
            document.get("ocr", {}).get("reader"),
            failed,
        )
        want = ("SUCCEEDED", sample.doc_type, sample.reader, tuple(sorted(sample.failed)))
        if got != want:
            problems.append(f"{sample.key}: {got} (want {want}) {document.get('reason', '')}")
        elif sample.doc_type == "inventory_photo":
            inventory = document["inventory"]
            if (inventory["label_count"], inventory["location"]) != (sample.labels, sample.location):
                problems.append(f"{sample.key}: {inventory['label_count']} labels at {inventory['location']}")
        elif document.get("extracted_by") != sample.extracted_by:
            problems.append(f"{sample.key}: extracted by {document.get('extracted_by')}")
    return problems


def show(document: dict[str, Any]) -> str:
    """One line for a logistics reader: the record, where it came from, and the failed findings."""
    if document["status"] == "FAILED":
        return f"FAILED {document.get('error')}: {document.get('reason')}"
    reader = document["ocr"]["reader"]
    failed = [f"{f['rule']} ({f['detail']})" for f in document["findings"] if f["status"] == "FAIL"]
    if "inventory" in document:
        inventory = document["inventory"]
        text = f"inventory at {inventory['location']}: {inventory['label_count']} label(s)"
    else:
        r = document["record"]
        model = document.get("model")
        by = f"model x{model['attempts']}" if model else "rules"
        text = (
            f"{document['document']['type']} {r['tracking_number']} ({r['tracking_scheme']}) {r['carrier']}: "
            f"{r['shipper']['name']} -> {r['consignee']['name']}, "
            f"{r['weight_value']} {r['weight_unit'] or '?'}, "
            f"{r['pieces']} pc, {len(r['items'])} item(s)"
            + (f", container {r['container_number']}" if r.get("container_number") else "")
            + f" [{by}]"
        )
    return f"[{reader}] {text}" + (f"; FINDINGS: {'; '.join(failed)}" if failed else "")


def athena(cloud: Any, stack: Any) -> list[dict[str, Any]]:
    from logistics_ocr.report import QUERY_BY_CARRIER
    from shared.analytics import AthenaRunner, AthenaSettings

    # moto's CloudFormation skips Glue and Athena; the local cloud creates them after the deploy.
    database = stack.outputs.get("GlueDatabaseName") or stack.created.get("GlueDatabase", "")
    workgroup = stack.outputs.get("AthenaWorkGroupName") or stack.created.get("AthenaWorkGroup", "")
    runner = AthenaRunner(
        AthenaSettings(workgroup=workgroup, database=database), client=cloud.client("athena")
    )
    return list(runner.run(QUERY_BY_CARRIER, deadline_seconds=60).rows)


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
    report = cloud.read_json(bucket, f"runs/{result.name}/report.json")
    summary.files_detected = int(report.get("documents", 0))
    found = results(cloud, bucket)
    with step("check every file against the plan (reader, type, extractor, findings, typed errors)"):
        problems = mismatches(found)
        summary.flow("every file as planned", not problems, "; ".join(problems[:3]))
        for key in sorted(found):
            summary.extra[f"doc {key}"] = show(found[key])
    summary.extra["labels per location"] = report.get("labels_per_location")
    summary.extra["report"] = {
        k: report.get(k) for k in ("by_status", "by_type", "by_reader", "extracted_by", "failed_findings")
    }
    summary.extra["ai calls"] = dict(cloud.textract.calls)
    with step("query the shipments dataset with Athena"):
        rows = athena(cloud, stack)
        summary.flow("Athena over the dataset", bool(rows), f"{len(rows)} row(s)")
        summary.extra["athena"] = rows
    with step("run again: every version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        summary.flow(
            "a second run finds nothing new",
            again.succeeded and again.states_entered().get("NothingToDo") == 1,
            again.status,
        )
    summary.extra["runs"] = 2
    keys: list[str] = []
    for prefix in ("results/", "datasets/", f"runs/{result.name}/"):
        for page in (
            cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
