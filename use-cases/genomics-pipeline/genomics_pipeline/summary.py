"""The Summarize step: the run's result documents -> dataset tables -> Athena summaries -> summary.json.

It reads the run's manifest (``chunks_key``, written by Discover) and, for each file version in
it, the result document QualityControl or RecordFailure wrote under its output key; a version with
no document (a failure left for the next run) is counted as ``missing``. The documents become rows
of UC7's tables (:mod:`genomics_pipeline.datasets`) in the ``dt`` partition of the run's date, then
Athena answers the run's summaries from those tables (files by kind and status, FASTQ totals and
the weakest files, variant types and Ts/Tv, genotypes per sample, BAM headers). Everything goes to
``runs/<run_id>/summary.json``, which the Report step reads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from genomics_pipeline.datasets import (
    BAM_HEADERS,
    FASTQ_QC,
    FILES,
    ROOT,
    SCHEMAS,
    VCF_GENOTYPES,
    VCF_STATS,
    records,
)
from genomics_pipeline.files import summary_key
from shared.analytics import AthenaRunner, DatasetWriter
from shared.config import CommonConfig, env
from shared.errors import ObjectNotFoundError
from shared.observability import stats, xray_subsegment
from shared.polling.discovery import Chunk, load_chunk
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

MAX_FAILURES_LISTED = 50
_RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SummaryConfig(CommonConfig):
    output_bucket: str = env("OUTPUT_BUCKET")
    athena_workgroup: str = env("ATHENA_WORKGROUP")
    glue_database: str = env("GLUE_DATABASE")
    athena_deadline_seconds: int = env("ATHENA_DEADLINE_SECONDS", 120)


def run_documents(
    output: S3AccessPoint, chunks_key: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(manifest line, its result document or None) for every file version of the run."""
    for descriptor in json.loads(output.get_bytes(chunks_key)):
        for file in load_chunk(output, Chunk.from_dict(descriptor)):
            try:
                document = json.loads(output.get_bytes(output_key(str(file["key"]), str(file["etag"]))))
            except ObjectNotFoundError:
                document = None
            yield file, document


def queries(database: str, run_id: str, day: str) -> dict[str, str]:
    """The run's summaries, each filtered on its partition and run id (partition pruning)."""
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r} is not a Step Functions execution name")

    def where(table: str) -> str:
        return f"FROM \"{database}\".\"{table}\" WHERE dt = '{day}' AND run_id = '{run_id}'"

    return {
        "files_by_kind_and_status": (
            "SELECT kind, status, qc, count(*) AS files, sum(size) AS bytes, sum(bytes_read) AS bytes_read "
            f"{where(FILES.name)} GROUP BY kind, status, qc ORDER BY kind, status, qc"
        ),
        "fastq_totals": (
            "SELECT count(*) AS files, sum(reads) AS reads, sum(bases) AS bases, "
            "round(sum(gc_percent * bases) / nullif(sum(bases), 0), 2) AS gc_percent, "
            "round(sum(mean_quality * bases) / nullif(sum(bases), 0), 2) AS mean_quality, "
            "round(sum(q30_fraction * bases) / nullif(sum(bases), 0), 4) AS q30_fraction, "
            "round(sum(n_rate * bases) / nullif(sum(bases), 0), 6) AS n_rate "
            f"{where(FASTQ_QC.name)}"
        ),
        "fastq_weakest": (
            "SELECT key, reads, round(q30_fraction, 4) AS q30_fraction, "
            "round(mean_quality, 2) AS mean_quality, "
            f"round(n_rate, 5) AS n_rate, quality_encoding {where(FASTQ_QC.name)} "
            "ORDER BY q30_fraction, key LIMIT 10"
        ),
        "variant_types": (
            "SELECT count(*) AS files, sum(records) AS records, "
            "sum(multiallelic_sites) AS multiallelic_sites, "
            "sum(snv) AS snv, sum(mnv) AS mnv, sum(insertion) AS insertion, sum(deletion) AS deletion, "
            "sum(complex) AS complex, sum(symbolic) AS symbolic, "
            "round(cast(sum(transitions) AS double) / nullif(sum(transversions), 0), 3) AS ts_tv "
            f"{where(VCF_STATS.name)}"
        ),
        "genotypes_by_sample": (
            "SELECT sample, sum(hom_ref) AS hom_ref, sum(het) AS het, sum(hom_alt) AS hom_alt, "
            "sum(missing) AS missing, "
            "round(cast(sum(het) AS double) / nullif(sum(hom_alt), 0), 3) AS het_hom_ratio, "
            "round(cast(sum(missing) AS double) / nullif(sum(hom_ref + het + hom_alt + missing), 0), 4) "
            f"AS missing_rate {where(VCF_GENOTYPES.name)} GROUP BY sample ORDER BY sample"
        ),
        "bam_headers": (
            "SELECT key, sort_order, reference_count, read_groups, samples, bytes_read, size "
            f"{where(BAM_HEADERS.name)} ORDER BY key LIMIT 100"
        ),
    }


def summarize(
    output: S3AccessPoint,
    runner: AthenaRunner,
    cfg: SummaryConfig,
    *,
    run_id: str,
    chunks_key: str,
    today: date | None = None,
) -> dict[str, Any]:
    """Write the run's dataset rows and summary document; return the step's output."""
    day = (today or datetime.now(UTC).date()).isoformat()
    by_status: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    bytes_read = size = 0
    with (
        xray_subsegment("write_datasets", {"run_id": run_id}),
        DatasetWriter(cfg.output_bucket, root=ROOT, run_id=run_id, client=output.client) as writer,
    ):
        for file, document in run_documents(output, chunks_key):
            if document is None:
                by_status["MISSING"] += 1
                continue
            by_status[str(document["status"])] += 1
            section = document.get("file") or {}
            by_kind[str(section.get("kind", "unknown"))] += 1
            bytes_read += int(section.get("bytes_read") or 0)
            size += int(file.get("size") or 0)
            if document.get("reason") and len(failures) < MAX_FAILURES_LISTED:
                failures.append(
                    {"key": file["key"], "error": document.get("error"), "reason": document["reason"]}
                )
            for schema, row in records(document, run_id):
                writer.write(schema, row, dt=day)
    written = dict(writer.summary.records)
    athena: dict[str, list[dict[str, Any]]] = {}
    scanned = 0
    if sum(by_kind.values()):
        with xray_subsegment("athena_summaries", {"run_id": run_id}):
            for name, sql in queries(cfg.glue_database, run_id, day).items():
                result = runner.run(sql, deadline_seconds=cfg.athena_deadline_seconds, max_rows=1000)
                athena[name] = [_plain(row) for row in result.rows]
                scanned += result.bytes_scanned
    files = sum(by_status.values())
    document = {
        "run_id": run_id,
        "dt": day,
        "files": files,
        "by_status": dict(by_status),
        "by_kind": dict(by_kind),
        "bytes_read": bytes_read,
        "bytes_listed": size,
        "failures": failures,
        "athena": athena,
        "athena_bytes_scanned": scanned,
        "datasets": written,
        "tables": [schema.name for schema in SCHEMAS],
    }
    key = summary_key(run_id)
    output.put(
        key, json.dumps(document, sort_keys=True, default=str).encode(), content_type="application/json"
    )
    stats().put_metric("AthenaBytesScanned", scanned, "Bytes")
    return {
        "run_id": run_id,
        "summary_key": key,
        "files": files,
        "by_status": dict(by_status),
        "datasets": written,
    }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with JSON-friendly values (Athena's decimals and dates as numbers and strings)."""
    return {k: (float(v) if type(v).__name__ == "Decimal" else v) for k, v in row.items()}
