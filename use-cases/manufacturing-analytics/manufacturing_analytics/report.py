"""UC3's report step: the run's results, the Athena queries over the report window, then the report.

Inputs come only from what earlier states wrote: the run's chunk list (Discover) names every file
version of the run, whose result documents the per-file steps (or RecordFailure) wrote; the
datasets those steps wrote are read through Athena. The window is the ``REPORT_LOOKBACK_DAYS`` UTC
dates ending with the run's date, so each query reads only those ``dt`` partitions.

The shared report step (:func:`shared.report.produce_report`) writes ``reports/<run_id>/report.json``
and ``report.md`` and announces them on SNS: the facts sent to Bedrock are aggregates only (the run's
counts, the findings, rows per line and shift and per machine and day, within the prompt budget),
never every reading. A model error fails the step before anything is written; only then does this
module add ``findings.json`` (the queries, their bytes scanned and the findings, model-free).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from manufacturing_analytics import queries
from shared.analytics import AthenaRunner
from shared.config import env
from shared.errors import ObjectNotFoundError
from shared.polling.discovery import run_files
from shared.polling.keys import output_key
from shared.report import ReportConfig as SharedReportConfig
from shared.report import ReportOutcome, ReportRequest, produce_report
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

MAX_FAILURES_LISTED = 20


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportConfig(SharedReportConfig):
    """The shared report step's settings with UC3's window, deadline and alert threshold."""

    lookback_days: int = env("REPORT_LOOKBACK_DAYS", 7)
    query_deadline_seconds: float = env("QUERY_DEADLINE_SECONDS", 240.0)
    defect_rate_alert_pct: float = env("DEFECT_RATE_ALERT_PCT", 5.0)


def run_outcomes(output: S3AccessPoint, chunks_key: str) -> dict[str, Any]:
    """Counts by kind and status over the run's files, and the FAILED ones with their reasons."""
    counts: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    missing = 0
    for file in run_files(output, chunks_key):
        try:
            body = json.loads(output.get_bytes(output_key(file["key"], file["etag"])))
        except ObjectNotFoundError:
            missing += 1
            continue
        kind = str(body.get("kind", "unknown"))
        counts[f"{kind}:{body['status']}"] += 1
        if body["status"] == "FAILED" and len(failures) < MAX_FAILURES_LISTED:
            failures.append({"key": file["key"], "reason": str(body.get("reason", ""))})
        if kind == "image" and body.get("inspection", {}).get("decision", {}).get("defect"):
            counts["image:defect"] += 1
    return {"counts": dict(sorted(counts.items())), "failures": failures, "missing_results": missing}


def run_queries(runner: AthenaRunner, window: queries.Window, deadline_seconds: float) -> dict[str, Any]:
    """Every query of :data:`queries.QUERIES` over the window: rows and bytes scanned."""
    out: dict[str, Any] = {}
    for name, build in queries.QUERIES.items():
        result = runner.run(build(window), deadline_seconds=deadline_seconds, max_rows=10_000)
        out[name] = {"rows": result.rows, "bytes_scanned": result.bytes_scanned, "query_id": result.query_id}
    return out


def findings(results: Mapping[str, Any], alert_pct: float) -> list[str]:
    """The sentences a quality engineer reads first."""
    lines: list[str] = []
    rates = results["defect_rate_by_line_and_shift"]["rows"]
    for row in sorted(rates, key=lambda r: -float(r["defect_rate_pct"] or 0)):
        if float(row["defect_rate_pct"] or 0) > alert_pct:
            lines.append(
                f"{row['line']} shift {row['shift']}: {row['defects']} of {row['images']} images defective "
                f"({row['defect_rate_pct']}%, above {alert_pct}%)"
            )
    anomalies = results["anomalies_by_machine_and_day"]["rows"]
    per_machine: Counter[str] = Counter()
    for row in anomalies:
        per_machine[str(row["machine"])] += int(row["anomalies"])
    for machine, n in per_machine.most_common():
        lines.append(f"{machine}: {n} sensor anomalies in the window")
    if not lines:
        lines.append("no line or shift above the defect-rate alert, and no sensor anomalies")
    return lines


def build(
    output: S3AccessPoint,
    runner: AthenaRunner,
    *,
    run_id: str,
    chunks_key: str,
    cfg: ReportConfig,
    today: date | None = None,
) -> dict[str, Any]:
    """Run outcomes, queries and findings as one JSON-safe document (written by :func:`write`)."""
    window = queries.Window(today or datetime.now(UTC).date(), cfg.lookback_days)
    results = run_queries(runner, window, cfg.query_deadline_seconds)
    return {
        "run_id": run_id,
        "window": window.to_dict(),
        "run": run_outcomes(output, chunks_key),
        "queries": results,
        "findings": findings(results, cfg.defect_rate_alert_pct),
        "bytes_scanned": sum(int(r["bytes_scanned"]) for r in results.values()),
    }


def request(document: Mapping[str, Any]) -> ReportRequest:
    """The shared step's request: facts (aggregates, budgeted) for the model, tables for the reader."""
    rates = document["queries"]["defect_rate_by_line_and_shift"]["rows"]
    anomalies = document["queries"]["anomalies_by_machine_and_day"]["rows"]
    readings = document["queries"]["readings_by_machine"]["rows"]
    return ReportRequest(
        run_id=str(document["run_id"]),
        subject=f"manufacturing quality, {document['window']['first']} to {document['window']['last']}",
        audience="a plant quality engineer",
        facts={
            "window_utc_dates": document["window"],
            "findings": document["findings"],
            "defect_rate_by_line_and_shift": rates,
            "sensor_anomalies_by_machine_and_day": anomalies,
            "anomaly_method": "modified z-score (median/MAD), |score| > threshold",
            "this_run": document["run"]["counts"],
        },
        tables={
            "Defect rate by line and shift": rates,
            "Sensor anomalies by machine and day": anomalies,
            "Readings by machine": readings,
            "Files this run could not use": document["run"]["failures"],
        },
    )


def write(
    output: S3AccessPoint, document: Mapping[str, Any], cfg: ReportConfig, *, bedrock: Any, sns: Any
) -> ReportOutcome:
    """The shared report step, then ``findings.json`` beside its report (only once the model answered)."""
    outcome = produce_report(request(document), cfg, bedrock=bedrock, output=output, sns=sns)
    key = f"{cfg.report_prefix.rstrip('/')}/{document['run_id']}/findings.json"
    output.put(key, json.dumps(document, default=str, indent=1).encode(), content_type="application/json")
    return outcome
