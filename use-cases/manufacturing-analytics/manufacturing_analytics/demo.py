"""UC3 manufacturing-analytics on the embedded local cloud: sensor logs and inspection images to a report.

Runs:

1. the schedule fires; every seeded file is processed: sensor CSVs into readings and anomalies,
   images into inspection rows (the PNG over 5 MB resized first), the broken files into FAILED
   results with their reasons; the report step runs the real SQL (DuckDB standing in for Athena)
   over the datasets and writes ``reports/<run>/report.md`` and ``findings.json``;
2. a second run finds every version done and processes nothing;
3. the same queries are run once more from the driver, with and without a partition filter, to
   show what partition pruning saves in bytes scanned.

Sample files come from :mod:`manufacturing_analytics.samples` for yesterday (UTC) so the report's
window (the last ``ReportLookbackDays`` days) holds them. ``files`` is ignored: the sample set is
fixed (3 good sensor logs, 3 broken ones, 12 images of which 4 show a defect, 1 truncated image).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from manufacturing_analytics import samples

logger = logging.getLogger(__name__)


def sample_day() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "SensorTimeZone": samples.PLANT_ZONE,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
        "ReportLookbackDays": "7",
    }


def seed(cloud: Any, access_point: Any, files: int) -> int:
    s3 = cloud.client("s3")
    written = samples.generate(sample_day())
    for sample in written:
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=sample.body)
    return len(written)


def _pruning(cloud: Any, stack: Any) -> dict[str, int]:
    """Bytes scanned by the defect-rate query over every partition, the window, and one day."""
    from manufacturing_analytics import queries
    from shared.analytics import AthenaRunner, AthenaSettings

    runner = AthenaRunner(
        AthenaSettings(stack.outputs["AthenaWorkGroupName"], stack.outputs["GlueDatabaseName"]),
        client=cloud.client("athena"),
    )
    sql = queries.anomalies_by_machine_and_day(queries.Window(sample_day() + timedelta(days=1), 7))
    everything = sql.replace(queries.Window(sample_day() + timedelta(days=1), 7).where(), "true")
    one_day = sql.replace(
        queries.Window(sample_day() + timedelta(days=1), 7).where(), f"dt = '{sample_day().isoformat()}'"
    )
    return {
        "no partition filter": runner.run(everything).bytes_scanned,
        "7-day window": runner.run(sql).bytes_scanned,
        "one day": runner.run(one_day).bytes_scanned,
    }


def drive(cloud: Any, stack: Any, access_point: Any, summary: Any, step: Any) -> None:
    bucket = stack.outputs.get("OutputBucketName") or stack.physical_ids.get("OutputBucket", "")
    with step("tick the pipeline schedule and wait for the execution"):
        firings = cloud.tick("PipelineSchedule")
        results = cloud.wait_for_executions(timeout_seconds=300)
        result = results[0] if results else None
        ok = bool(firings) and all(f.ok for f in firings) and result is not None and result.succeeded
        detail = f"{result.status} {result.error or ''}".strip() if result else "no execution started"
        summary.flow("pipeline state machine", ok, detail)
    if result is None:
        return
    summary.items_per_state = dict(result.states_entered())
    report: dict[str, Any] = result.output if isinstance(result.output, dict) else {}
    counts = report.get("counts") or {}
    summary.files_detected = sum(int(v) for k, v in counts.items() if not k.endswith(":defect"))
    summary.extra["run counts"] = counts
    with step("read the report the run wrote (Athena queries on DuckDB)"):
        keys = report.get("report_keys") or {}
        base = str(keys.get("json", "")).rsplit("/", 1)[0]
        body = cloud.client("s3").get_object(Bucket=bucket, Key=f"{base}/findings.json")["Body"]
        findings = json.loads(body.read()) if keys else {}
        written = report.get("report") or {}
        summary.extra["report"] = {
            "markdown": written.get("report_markdown"),
            "title": written.get("title"),
            "notification": (written.get("notification") or {}).get("status"),
            "prompt bytes": written.get("prompt_bytes"),
        }
        queries_out = findings.get("queries", {})
        rates = queries_out.get("defect_rate_by_line_and_shift", {}).get("rows", [])
        anomalies = queries_out.get("anomalies_by_machine_and_day", {}).get("rows", [])
        summary.extra["defect rate by line and shift"] = [
            f"{r['line']}/{r['shift']}: {r['defects']}/{r['images']} ({r['defect_rate_pct']}%)" for r in rates
        ]
        summary.extra["anomalies by machine and day"] = [
            f"{r['machine']} {r['day']}: {r['anomalies']}" for r in anomalies
        ]
        summary.extra["findings"] = findings.get("findings", [])
        summary.extra["run failures"] = [
            f"{f['key']}: {f['reason'][:90]}" for f in findings.get("run", {}).get("failures", [])
        ]
        summary.extra["report bytes scanned"] = findings.get("bytes_scanned", 0)
        summary.flow(
            "report with real queries",
            bool(rates) and bool(anomalies),
            f"{len(rates)} line/shift rows, {len(anomalies)} machine/day rows",
        )
    with step("run again: every file version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    with step("bytes scanned with and without a partition filter"):
        pruning = _pruning(cloud, stack)
        summary.extra["bytes scanned"] = pruning
        summary.flow(
            "partition pruning",
            pruning["one day"] < pruning["no partition filter"],
            ", ".join(f"{k} {v} B" for k, v in pruning.items()),
        )
    summary.extra["runs"] = 2
    summary.output_keys = sorted(
        cloud.list_keys(bucket, "results/")
        + cloud.list_keys(bucket, "datasets/")
        + cloud.list_keys(bucket, "reports/")
    )
    summary.extra["functions invoked"] = cloud.function_counts(stack)
