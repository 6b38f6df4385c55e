"""The run's report step: result documents -> dataset tables -> Athena summaries -> the run report.

It reads only what the run's own states wrote: the chunk list of the run's manifest (discovery),
each chunk's files (one ranged GET each) and, for each file version, its result document at
:func:`shared.polling.keys.output_key` (the Inspect step, or RecordFailure after a caught error).
A version with no document (left for the next run after throttling) is counted as pending. The
rows go to the dataset tables (:mod:`energy_seismic.datasets`), and the Athena summaries are
computed over the run's partition and ``run_id``, so the figures in the report are the ones an
analyst gets from the same tables.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from energy_seismic.datasets import (
    COMPLIANCE_FINDINGS,
    INSPECTED_FILES,
    ROOT,
    SEISMIC_SURVEYS,
    WELL_CURVES,
    rows,
)
from shared.analytics import AthenaRunner, DatasetWriter
from shared.polling.results import run_results
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

MAX_ROWS = 1000


def queries(run_id: str, dt: str) -> dict[str, str]:
    """The run's Athena summaries (Trino SQL, also run by the local cloud's DuckDB)."""
    where = f"dt = '{dt}' AND run_id = '{run_id}'"
    return {
        "files_by_kind_and_status": (
            "SELECT kind, status, verdict, count(*) AS files, sum(file_size) AS bytes, "
            "sum(bytes_read) AS bytes_read "
            f"FROM {INSPECTED_FILES.name} WHERE {where} GROUP BY kind, status, verdict "
            "ORDER BY kind, status, verdict"
        ),
        "findings_by_rule": (
            "SELECT rule, severity, count(*) AS files "
            f"FROM {COMPLIANCE_FINDINGS.name} WHERE {where} GROUP BY rule, severity "
            "ORDER BY severity, files DESC, rule"
        ),
        "surveys": (
            "SELECT key, sample_format, trace_count, samples_per_trace, sample_interval_us, "
            "inline_min, inline_max, crossline_min, crossline_max, amplitude_rms, file_size, bytes_read "
            f"FROM {SEISMIC_SURVEYS.name} WHERE {where} ORDER BY key"
        ),
        "curves_with_anomalies": (
            "SELECT well, curve, unit, anomalies, nulls, samples, median_value, mad "
            f"FROM {WELL_CURVES.name} WHERE {where} AND anomalies > 0 "
            "ORDER BY anomalies DESC, well, curve LIMIT 50"
        ),
    }


def failures(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"key": d["source"]["key"], "error": d.get("error"), "reason": d.get("reason")}
        for d in documents
        if d.get("status") == "FAILED"
    ]


def summarise_run(
    output: S3AccessPoint,
    *,
    run_id: str,
    chunks_key: str,
    athena: AthenaRunner | None,
    deadline_seconds: float = 60.0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write the run's dataset rows, run the Athena summaries, and return the report's facts and tables."""
    documents, pending = run_results(output, chunks_key)
    dt = (now or datetime.now(UTC)).date().isoformat()
    with DatasetWriter(output.target, root=ROOT, run_id=run_id, client=output.client) as writer:
        for document in documents:
            for schema, record in rows(run_id, document):
                writer.write(schema, record, dt=dt)
    written = writer.summary.to_dict()
    tables: dict[str, list[dict[str, Any]]] = {}
    bytes_scanned = 0
    if athena is not None and documents:
        for name, sql in queries(run_id, dt).items():
            result = athena.run(sql, deadline_seconds=deadline_seconds, max_rows=MAX_ROWS)
            tables[name] = result.rows
            bytes_scanned += result.bytes_scanned
    statuses = [d.get("status") for d in documents]
    facts = {
        "run_id": run_id,
        "files": len(documents),
        "succeeded": statuses.count("SUCCEEDED"),
        "failed": statuses.count("FAILED"),
        "pending": len(pending),
        "failures": failures(documents),
        "findings_by_rule": tables.get("findings_by_rule", []),
        "files_by_kind_and_status": tables.get("files_by_kind_and_status", []),
        "curves_with_anomalies": tables.get("curves_with_anomalies", [])[:20],
    }
    return {
        "facts": facts,
        "tables": tables,
        "datasets": written,
        "athena_bytes_scanned": bytes_scanned,
        "dt": dt,
    }


def markdown(summary: dict[str, Any]) -> str:
    """A plain report for the data manager (the Bedrock narrative, when on, comes on top of it)."""
    facts = summary["facts"]
    out = [
        f"# Seismic and well-log delivery check, run {facts['run_id']}",
        "",
        f"{facts['files']} files: {facts['succeeded']} read, {facts['failed']} failed, "
        f"{facts['pending']} pending.",
        "",
    ]
    for title, name in (
        ("Files", "files_by_kind_and_status"),
        ("Compliance findings", "findings_by_rule"),
        ("Surveys", "surveys"),
        ("Curves with anomalies", "curves_with_anomalies"),
    ):
        table = summary["tables"].get(name) or []
        if not table:
            continue
        columns = list(table[0])
        out += [f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join("" if r[c] is None else str(r[c]) for c in columns) + " |" for r in table]
        out.append("")
    if facts["failures"]:
        out += ["## Failed files", ""]
        out += [f"- `{f['key']}`: {f['error']}: {f['reason']}" for f in facts["failures"]]
    return "\n".join(out) + "\n"
