"""The Report step: the run's summary document -> the shared report step (Bedrock) -> report.md/json.

Only aggregates reach the model (totals, FASTQ averages, variant types, per-sample genotype
counts, the failures' reasons); the per-file tables go to the reader only. Sample names are
identifiers a lab chose, not patient data, and no sequence or genotype of a person is sent.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from genomics_pipeline.files import summary_key
from shared.report import ReportConfig, ReportRequest, produce_report
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

SUBJECT = "sequencing QC of FASTQ, BAM and VCF files"
AUDIENCE = "a sequencing-lab manager or bioinformatician"


def request_for(summary: dict[str, Any]) -> ReportRequest:
    athena = summary.get("athena") or {}
    facts = {
        "files": summary.get("files", 0),
        "by_status": summary.get("by_status", {}),
        "by_kind": summary.get("by_kind", {}),
        "fastq": (athena.get("fastq_totals") or [{}])[0],
        "variants": (athena.get("variant_types") or [{}])[0],
        "genotypes_by_sample": athena.get("genotypes_by_sample", []),
        "failures": summary.get("failures", []),
        "flagged_fastq": list(athena.get("fastq_weakest", []))[:5],
    }
    tables = {
        "Files by kind and status": athena.get("files_by_kind_and_status", []),
        "FASTQ files, weakest Q30 first": athena.get("fastq_weakest", []),
        "Genotypes by sample (./. counted as missing)": athena.get("genotypes_by_sample", []),
        "BAM headers": athena.get("bam_headers", []),
        "Failed files": summary.get("failures", []),
    }
    return ReportRequest(
        run_id=str(summary["run_id"]), subject=SUBJECT, audience=AUDIENCE, facts=facts, tables=tables
    )


def report_run(
    output: S3AccessPoint, cfg: ReportConfig, *, run_id: str, key: str, bedrock: Any, sns: Any | None
) -> dict[str, Any]:
    """Produce the run's report from the summary at ``key`` and return the step's output."""
    if key != summary_key(run_id):
        raise ValueError(f"summary_key {key!r} is not the summary of run {run_id!r}")
    summary = json.loads(output.get_bytes(key))
    outcome = produce_report(request_for(summary), cfg, bedrock=bedrock, output=output, sns=sns)
    return {"run_id": run_id, "status": "SUCCEEDED", **outcome.to_dict()}
