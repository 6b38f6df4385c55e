"""UC2 financial-idp on the embedded local cloud: invoices and statements into validated extractions.

The demo seeds every variant the pipeline claims (``financial_idp.samples.plan``): born-digital
invoices and a statement that skip OCR, JPEG/PNG scans and a one-page scanned PDF read
synchronously, a mixed statement whose one scanned page is read on its own, a two-page TIFF and a
three-page scanned statement that go to asynchronous Textract jobs (staged, SNS completion, the
callback answering the task token, results paged with NextToken), and four broken files (truncated,
encrypted, zero pages, a PNG named .pdf).

Runs: the first processes every document (one result per version, the dataset rows, the report);
the second finds nothing new; an Athena query (DuckDB locally) reads the dataset; the last adds a
scan whose Textract job fails on purpose (its staged copy is unreadable), which becomes that
document's FAILED result with Textract's reason. Textract answers come from the local stand-in
(``scripts/localcloud/textract.py``), derived from the text each sample really shows.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from financial_idp import samples
from shared.formats.samples import documents as docs

logger = logging.getLogger(__name__)

LATE_SCAN = "statements/2026-11/acct-7009-scan.pdf"


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def seed(cloud: Any, access_point: Any, files: int) -> int:
    """Write the plan's documents (all of them: each is a variant the demo checks)."""
    s3 = cloud.client("s3")
    plan = samples.plan()
    for sample in plan:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.make())
    return len(plan)


def _json(cloud: Any, bucket: str, key: str) -> Any:
    return json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _results(cloud: Any, bucket: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    paginator = cloud.client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix="results/"):
        for obj in page.get("Contents", []):
            document = _json(cloud, bucket, obj["Key"])
            out[document["source"]["key"]] = document
    return out


def _expected_matches(results: dict[str, dict[str, Any]]) -> list[str]:
    """Every way the results differ from the plan (empty: as planned)."""
    problems = []
    for sample in samples.plan():
        document = results.get(sample.key)
        if document is None:
            problems.append(f"{sample.key}: no result")
        elif sample.error:
            if document["status"] != "FAILED" or document.get("error") != sample.error:
                problems.append(
                    f"{sample.key}: {document['status']} {document.get('error')} (want {sample.error})"
                )
        elif (
            document["status"] != "SUCCEEDED"
            or document["ocr"]["mode"] != sample.mode
            or document["document"]["type"] != sample.doc_type
            or document["needs_review"] != sample.needs_review
        ):
            problems.append(
                f"{sample.key}: {document['status']} {document.get('ocr', {}).get('mode')} "
                f"{document.get('reason', '')}"
            )
    return problems


def _show(document: dict[str, Any]) -> str:
    """One line for a finance reader: what was extracted, which rules failed (account: last 4 only)."""
    if document["status"] == "FAILED":
        return f"FAILED {document.get('error')}: {document.get('reason')}"
    fields = document["extraction"]
    failed = [f["rule"] for f in document["findings"] if f["status"] == "FAIL"]
    mode = document["ocr"]["mode"]
    if document["document"]["type"] == "invoice":
        text = (
            f"invoice {fields['invoice_number']} from {fields['vendor']}, {fields['invoice_date']}, "
            f"{len(fields['line_items'])} items, {fields['subtotal']} + {fields['tax']} = "
            f"{fields['total']} {fields['currency']}"
        )
    else:
        account = fields.get("account") or ""
        text = (
            f"statement ****{account[-4:]} {fields['period_start']}..{fields['period_end']}, "
            f"{len(fields['transactions'])} transactions, {fields['opening_balance']} -> "
            f"{fields['closing_balance']} {fields['currency']}"
        )
    return f"[{mode}] {text}" + (f"; REVIEW: {', '.join(failed)}" if failed else "")


def _athena(cloud: Any, stack: Any) -> tuple[bool, list[dict[str, Any]]]:
    from shared.analytics import AthenaRunner, AthenaSettings

    # moto's CloudFormation skips Glue and Athena; the local cloud creates them after the deploy.
    database = stack.outputs.get("GlueDatabaseName") or stack.created.get("GlueDatabase", "")
    workgroup = stack.outputs.get("AthenaWorkGroupName") or stack.created.get("AthenaWorkGroup", "")
    runner = AthenaRunner(
        AthenaSettings(workgroup=workgroup, database=database), client=cloud.client("athena")
    )
    result = runner.run(
        "SELECT doc_type, ocr_mode, count(*) AS documents, sum(pages) AS pages, "
        "sum(CASE WHEN needs_review THEN 1 ELSE 0 END) AS needs_review "
        "FROM financial_documents WHERE status = 'SUCCEEDED' "
        "GROUP BY doc_type, ocr_mode ORDER BY doc_type, ocr_mode",
        deadline_seconds=60,
    )
    return bool(result.rows), list(result.rows)


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
    report = _json(cloud, bucket, f"runs/{result.name}/report.json")
    summary.files_detected = int(report.get("documents", 0))
    results = _results(cloud, bucket)
    with step("check every document against the plan (route, type, rules, typed errors)"):
        problems = _expected_matches(results)
        summary.flow("every document as planned", not problems, "; ".join(problems[:3]))
        for key in sorted(results):
            summary.extra[f"doc {key}"] = _show(results[key])
    with step("check the asynchronous Textract jobs (staged, SNS callback, task token, NextToken)"):
        jobs = cloud.textract.jobs
        staged_left = (
            cloud.client("s3").list_objects_v2(Bucket=stack.outputs["StagingBucketName"]).get("KeyCount", 0)
        )
        async_ok = len(jobs) == 2 and all(j.status == "SUCCEEDED" for j in jobs.values()) and staged_left == 0
        summary.flow(
            "async Textract jobs through the SNS callback",
            async_ok,
            f"{len(jobs)} job(s), {staged_left} staged left",
        )
        summary.extra["textract calls"] = dict(cloud.textract.calls)
    summary.extra["report"] = {
        k: report.get(k)
        for k in ("by_status", "by_mode", "pages", "pages_skipping_ocr", "share_skipping_ocr")
    }
    with step("query the financial_documents dataset with Athena"):
        ok, rows = _athena(cloud, stack)
        summary.flow("Athena over the dataset", ok, f"{len(rows)} row(s)")
        summary.extra["athena"] = rows
    with step("run again: every version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        summary.flow(
            "a second run finds nothing new",
            again.succeeded and again.states_entered().get("NothingToDo") == 1,
            again.status,
        )
    with step("add a scan whose Textract job fails (its staged copy is unreadable): a FAILED result"):
        cloud.client("s3").put_object(
            Bucket=access_point.arn,
            Key=LATE_SCAN,
            Body=docs.image_pdf(samples.statement_pages(9, pages=2)),
        )
        original = cloud.textract.complete_pending
        s3 = cloud.client("s3")

        def staged_copy_vanishes() -> bool:
            for job_id in cloud.textract.pending:
                job = cloud.textract.jobs[job_id]
                s3.delete_object(Bucket=job.bucket, Key=job.key)
            return bool(original())

        cloud.textract.complete_pending = staged_copy_vanishes
        try:
            failing = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        finally:
            cloud.textract.complete_pending = original
        late = _results(cloud, bucket).get(LATE_SCAN, {})
        summary.extra["failure path result"] = (
            f"{late.get('status')} {late.get('error', '')}: {late.get('reason', '')}"
        )
        summary.flow(
            "a failed Textract job becomes a FAILED result",
            failing.succeeded and late.get("status") == "FAILED" and "Textract" in str(late.get("reason")),
            failing.status,
        )
    summary.extra["runs"] = 3
    keys: list[str] = []
    for prefix in ("results/", "datasets/", f"runs/{result.name}/"):
        for page in (
            cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
    queue = stack.physical_ids.get("CallbackDeadLetterQueue")
    if queue:
        attributes = cloud.client("sqs").get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        )
        summary.dlq_entries = int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))
