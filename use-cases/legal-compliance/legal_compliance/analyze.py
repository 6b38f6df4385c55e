"""The run's analysis: result documents -> datasets -> one Athena query per rule -> findings and summary.

Input: the run's manifest (what discovery chose for this run). For each manifest line the file's
result document is read (in parallel): SUCCEEDED and FAILED documents become ``files`` records
(and ``acl_entries`` records for the audited ones); a line without a document (its failure was
left for the next run) becomes a ``PENDING`` files record, so the report counts it. Everything
goes to the run's ``dt`` partition.

Then each rule of :data:`legal_compliance.rules.RULES` runs on Athena; its rows are the run's
``findings`` records. Two summary queries follow (findings by share and owner, files by share),
and the analysis document ``runs/<run_id>/analysis.json`` keeps the counts, the summary rows, the
first findings and the bytes each query scanned; the report step reads it from there.

A retry of the step rewrites the same objects (the writer's file names are the run id and a
sequence), so no record is counted twice.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from legal_compliance.records import ACL_ENTRIES, DATASET_ROOT, FILES, FINDINGS, acl_records, file_record
from legal_compliance.rules import (
    RULES,
    SEVERITY,
    PolicyConfig,
    RunScope,
    files_by_share,
    summary_by_share_and_owner,
)
from shared.analytics import AthenaRunner, DatasetWriter
from shared.config import env
from shared.errors import FAILED, SUCCEEDED, ObjectNotFoundError
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

PENDING = "PENDING"
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclasses.dataclass(frozen=True, kw_only=True)
class AnalyzeConfig(PolicyConfig):
    output_bucket: str = env("OUTPUT_BUCKET")
    max_findings_kept: int = env("MAX_FINDINGS_IN_SUMMARY", 500)
    read_workers: int = env("RESULT_READ_WORKERS", 16)


def analysis_key(run_id: str) -> str:
    return f"runs/{run_id}/analysis.json"


def manifest_files(output: S3AccessPoint, manifest_key: str) -> list[dict[str, Any]]:
    """The manifest lines of the run (the file versions discovery chose)."""
    body = output.get_bytes(manifest_key)
    return [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]


def _document(output: S3AccessPoint, file: Mapping[str, Any]) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(
            output.get_bytes(output_key(str(file["key"]), str(file["etag"])))
        )
    except ObjectNotFoundError:
        return {}
    return document


def results(
    output: S3AccessPoint, files: list[dict[str, Any]], workers: int
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(manifest line, result document or {}) for every file, read ``workers`` at a time."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        yield from zip(files, pool.map(lambda f: _document(output, f), files), strict=True)


def write_datasets(
    writer: DatasetWriter, pairs: Iterator[tuple[dict[str, Any], dict[str, Any]]], scope: RunScope
) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Write ``files`` and ``acl_entries``; return the count per status and the unaudited files."""
    counts: Counter[str] = Counter()
    unaudited: list[dict[str, Any]] = []
    for file, document in pairs:
        status = str(document.get("status") or PENDING)
        if not document:
            document = {"reason": "no result: the failure was left for the next run", "error": "NoResult"}
        elif status not in (SUCCEEDED, FAILED):
            status = FAILED
        counts[status] += 1
        writer.write(FILES, file_record(document, file, scope.run_id, status), dt=scope.dt)
        if status == SUCCEEDED:
            for record in acl_records(document, scope.run_id):
                counts["acl_entries"] += 1
                writer.write(ACL_ENTRIES, record, dt=scope.dt)
        else:
            unaudited.append(
                {
                    "path": file["key"],
                    "status": status,
                    "error": document.get("error"),
                    "reason": document.get("reason"),
                }
            )
    return counts, unaudited


def run_rules(
    runner: AthenaRunner, scope: RunScope, deadline: Callable[[], float]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every rule's rows (one per file and rule) and one stats row per query."""
    findings: list[dict[str, Any]] = []
    queries: list[dict[str, Any]] = []
    for rule, sql in RULES.items():
        result = runner.run(sql(scope), deadline_seconds=deadline())
        queries.append(
            {
                "query": rule,
                "rows": len(result.rows),
                "bytes_scanned": result.bytes_scanned,
                "query_id": result.query_id,
            }
        )
        findings.extend(result.rows)
    return findings, queries


def finding_record(row: Mapping[str, Any], scope: RunScope) -> dict[str, Any]:
    last = row.get("last_modified")
    return {
        "run_id": scope.run_id,
        "rule": row["rule"],
        "severity": row["severity"],
        "path": row["path"],
        "share": row["share"],
        "owner": row.get("owner"),
        "principal": row.get("principal"),
        "detail": row.get("detail"),
        "last_modified": last.replace(tzinfo=UTC)
        if isinstance(last, datetime) and last.tzinfo is None
        else last,
        "found_at": scope.now,
    }


def _json_safe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]


def analyze_run(
    cfg: AnalyzeConfig,
    output: S3AccessPoint,
    runner: AthenaRunner,
    *,
    run_id: str,
    manifest_key: str,
    started_at: datetime,
    deadline: Callable[[], float],
    s3_client: Any = None,
) -> dict[str, Any]:
    """The whole step (module docstring); returns the step's small output."""
    scope = RunScope(
        run_id=run_id,
        dt=started_at.astimezone(UTC).strftime("%Y-%m-%d"),
        now=started_at.astimezone(UTC),
        retention_days=cfg.retention_days,
        sensitive_prefixes=cfg.sensitive_prefixes,
    )
    files = manifest_files(output, manifest_key)
    with DatasetWriter(cfg.output_bucket, root=DATASET_ROOT, run_id=run_id, client=s3_client) as writer:
        counts, unaudited = write_datasets(writer, results(output, files, cfg.read_workers), scope)
    dataset = writer.summary.to_dict()
    rows, queries = run_rules(runner, scope, deadline)
    rows.sort(key=lambda r: (SEVERITY_ORDER.get(str(r["severity"]), 9), str(r["rule"]), str(r["path"])))
    with DatasetWriter(
        cfg.output_bucket, root=DATASET_ROOT, run_id=run_id, client=s3_client
    ) as findings_writer:
        for row in rows:
            findings_writer.write(FINDINGS, finding_record(row, scope), dt=scope.dt)
    by_owner = runner.run(summary_by_share_and_owner(scope), deadline_seconds=deadline())
    by_share = runner.run(files_by_share(scope), deadline_seconds=deadline())
    queries += [
        {
            "query": "summary_by_share_and_owner",
            "rows": len(by_owner.rows),
            "bytes_scanned": by_owner.bytes_scanned,
        },
        {"query": "files_by_share", "rows": len(by_share.rows), "bytes_scanned": by_share.bytes_scanned},
    ]
    per_rule = Counter(str(r["rule"]) for r in rows)
    rules = {rule: {"severity": SEVERITY[rule], "findings": per_rule.get(rule, 0)} for rule in RULES}
    totals = {
        "files": len(files),
        "audited": counts[SUCCEEDED],
        "failed": counts[FAILED],
        "pending": counts[PENDING],
        "acl_entries": counts["acl_entries"],
        "findings": len(rows),
        "files_with_findings": len({str(r["path"]) for r in rows}),
    }
    document = {
        "run_id": run_id,
        "dt": scope.dt,
        "policy": {"retention_days": cfg.retention_days, "sensitive_prefixes": list(cfg.sensitive_prefixes)},
        "totals": totals,
        "rules": rules,
        "by_share_and_owner": _json_safe(by_owner.rows),
        "files_by_share": _json_safe(by_share.rows),
        "findings": _json_safe(rows[: cfg.max_findings_kept]),
        "findings_left_out": max(0, len(rows) - cfg.max_findings_kept),
        "unaudited": unaudited[: cfg.max_findings_kept],
        "queries": queries,
        "dataset": dataset,
    }
    key = analysis_key(run_id)
    output.put(
        key,
        json.dumps(document, separators=(",", ":"), default=str).encode("utf-8"),
        content_type="application/json",
    )
    logger.info("run %s: %s", run_id, totals)
    return {
        "run_id": run_id,
        "status": SUCCEEDED,
        "analysis_key": key,
        "totals": totals,
        "rules": {r: v["findings"] for r, v in rules.items()},
    }
