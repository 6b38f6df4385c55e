"""UC6 semiconductor-eda on the embedded local cloud: validate two projects' design files and report.

Runs: the first reads every seeded GDSII/OASIS file (a result document each, FAILED with the
record and offset for the broken ones), writes the dataset rows, and reports per project through
Athena (DuckDB locally) and the Bedrock stand-in; the second finds every version done; the third
picks up one rewritten library only.
"""

from __future__ import annotations

import logging
from typing import Any

from semiconductor_eda.samples import plan
from shared.formats.samples import eda

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
    s3 = cloud.client("s3")
    samples = plan()[: max(files, 1)] if files < len(plan()) else plan()
    for sample in samples:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.body)
    s3.put_object(Bucket=access_point.arn, Key="soc-alpha/README.txt", Body=b"not a design file")
    return len(samples)


def _results(cloud: Any, bucket: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in cloud.list_keys(bucket, "results/"):
        body = cloud.read_json(bucket, key)
        out[body["source"]["key"]] = body
    return out


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        executions = cloud.wait_for_executions(timeout_seconds=300)
        result = executions[0] if executions else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("pipeline state machine", ok, detail)
    if result is None:
        return
    summary.items_per_state = dict(result.states_entered())
    output = result.output if isinstance(result.output, dict) else {}
    with step("read the per-file results"):
        results = _results(cloud, bucket)
        summary.files_detected = len(results)
        per_file = {}
        for key, body in sorted(results.items()):
            design = body.get("design") or {}
            top = design.get("top_cell") or ", ".join(design.get("top_cells") or ()) or "-"
            per_file[key] = (
                f"{body['status']}: {design.get('format', '?')} library {design.get('library') or '-'}, "
                f"{design.get('cell_count', 0)} cells, top {top}, "
                f"findings {[f['code'] for f in design.get('findings', [])]}"
                if body["status"] == "SUCCEEDED"
                else f"FAILED: {body.get('reason')}"
            )
        summary.extra["designs"] = per_file
        failed = sorted(k for k, b in results.items() if b["status"] == "FAILED")
        expected_broken = sorted(s.key for s in plan() if s.expect == "broken")
        summary.extra["failed files"] = failed
        summary.flow(
            "broken files get FAILED results naming record and offset",
            failed == expected_broken and all("offset" in str(results[k].get("reason")) for k in failed),
            f"{len(failed)} FAILED",
        )
    with step("Athena summaries per project and the report"):
        totals = output.get("totals") or {}
        mismatches = output.get("unit_mismatches") or []
        summary.extra["totals"] = totals
        summary.extra["unit mismatches"] = [
            f"{m['project']}/{m['library']}: {m['db_unit_nm']} nm vs {m['project_db_unit_nm']} nm"
            for m in mismatches
        ]
        report_key = str(output.get("report_uri", "")).removeprefix(f"s3://{bucket}/")
        report = cloud.read_json(bucket, report_key) if report_key else {}
        tables = report.get("tables") or {}
        summary.extra["projects"] = tables.get("Projects")
        summary.extra["findings by project"] = tables.get("Findings by project and code")
        summary.extra["report"] = output.get("markdown_uri")
        ok = (
            totals.get("projects") == 3
            and [m["project"] for m in mismatches] == ["soc-beta"]
            and bool(report)
        )
        summary.flow("athena summaries per project and report", ok, f"{totals}")
    with step("run again: every version has its result, nothing is read"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    with step("rewrite one library: only that version is read"):
        cloud.client("s3").put_object(
            Bucket=access_point.arn,
            Key="soc-alpha/regfile.gds",
            Body=eda.gds_library("REGFILE", {"BIT": [eda.gds_rect(3, 0, 0, 0, 10, 10)]}),
        )
        third = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        third_totals = (third.output or {}).get("totals", {}) if isinstance(third.output, dict) else {}
        summary.extra["changed library run"] = third_totals
        summary.flow(
            "a changed library is read again, alone",
            third.succeeded and third_totals.get("files") == 1 and third_totals.get("cells") == 1,
            f"{third.status}, {third_totals.get('files')} file(s) read",
        )
    summary.extra["runs"] = 3
    summary.output_keys = sorted(
        cloud.list_keys(bucket, "results/")
        + cloud.list_keys(bucket, "reports/")
        + cloud.list_keys(bucket, "datasets/")
    )
