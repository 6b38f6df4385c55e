"""UC7's dataset tables: one record type per table, declared once for the writer and the Glue table.

Every record carries the ``run_id`` and the file's ``key`` and ``etag``, and is written by the
Summarize step under ``datasets/<prefix>/dt=<run date>/<run_id>-NNNN.jsonl.gz``; the template's
Glue tables point at exactly these prefixes (``tests/genomics_pipeline`` compares them).
"""

from __future__ import annotations

import logging
from typing import Any

from shared.analytics import Column, RecordSchema

logger = logging.getLogger(__name__)

ROOT = "datasets"
FIRST_DATE = "2026-01-01"


def _schema(name: str, description: str, *columns: Column) -> RecordSchema:
    base = (Column("run_id", "string", nullable=False), Column("key", "string", nullable=False),
            Column("etag", "string", nullable=False))  # fmt: skip
    return RecordSchema(
        name, (*base, *columns), prefix=f"genomics/{name}", description=description, first_date=FIRST_DATE
    )


FILES = _schema(
    "files",
    "One row per file version processed in a run: kind, status, reason, bytes read.",
    Column("kind", "string"),
    Column("status", "string"),
    Column("qc", "string"),
    Column("flags", "string"),
    Column("reason", "string"),
    Column("error", "string"),
    Column("size", "bigint"),
    Column("bytes_read", "bigint"),
)
FASTQ_QC = _schema(
    "fastq_qc",
    "FASTQ statistics per file: reads, bases, GC, quality, Q30, N rate, lengths.",
    Column("reads", "bigint"),
    Column("bases", "bigint"),
    Column("gc_percent", "double"),
    Column("mean_quality", "double"),
    Column("q30_fraction", "double"),
    Column("n_rate", "double"),
    Column("quality_encoding", "string"),
    Column("min_length", "int"),
    Column("max_length", "int"),
    Column("mean_length", "double"),
)
VCF_STATS = _schema(
    "vcf_stats",
    "VCF statistics per file: variant counts by type (multi-allelic sites split), Ts/Tv.",
    Column("records", "bigint"),
    Column("samples", "int"),
    Column("multiallelic_sites", "bigint"),
    Column("snv", "bigint"),
    Column("mnv", "bigint"),
    Column("insertion", "bigint"),
    Column("deletion", "bigint"),
    Column("complex", "bigint"),
    Column("symbolic", "bigint"),
    Column("transitions", "bigint"),
    Column("transversions", "bigint"),
)
VCF_GENOTYPES = _schema(
    "vcf_genotypes",
    "Genotype counts per VCF file and sample; ./. is missing, never homozygous.",
    Column("sample", "string"),
    Column("hom_ref", "bigint"),
    Column("het", "bigint"),
    Column("hom_alt", "bigint"),
    Column("missing", "bigint"),
)
BAM_HEADERS = _schema(
    "bam_headers",
    "BAM header per file: references, read groups and samples, read from the first BGZF blocks.",
    Column("sort_order", "string"),
    Column("reference_count", "int"),
    Column("reference_length", "bigint"),
    Column("read_groups", "int"),
    Column("samples", "string"),
    Column("size", "bigint"),
    Column("bytes_read", "bigint"),
)
SCHEMAS: tuple[RecordSchema, ...] = (FILES, FASTQ_QC, VCF_STATS, VCF_GENOTYPES, BAM_HEADERS)


def records(document: dict[str, Any], run_id: str) -> list[tuple[RecordSchema, dict[str, Any]]]:
    """The dataset rows of one result document."""
    source = document["source"]
    base = {"run_id": run_id, "key": source["key"], "etag": source["etag"]}
    file = document.get("file") or {}
    rows: list[tuple[RecordSchema, dict[str, Any]]] = [
        (
            FILES,
            {
                **base,
                "kind": file.get("kind"),
                "status": document["status"],
                "qc": file.get("qc"),
                "flags": "; ".join(file.get("flags") or []) or None,
                "reason": document.get("reason"),
                "error": document.get("error"),
                "size": file.get("size"),
                "bytes_read": file.get("bytes_read"),
            },
        )
    ]
    if "fastq" in document:
        fastq = document["fastq"]
        rows.append((FASTQ_QC, {**base, **{c.name: fastq.get(c.name) for c in FASTQ_QC.columns[3:]}}))
    if "vcf" in document:
        vcf = document["vcf"]
        types = vcf["variant_types"]
        row = {
            name: types.get(name, 0)
            for name in ("snv", "mnv", "insertion", "deletion", "complex", "symbolic")
        }
        rows.append(
            (
                VCF_STATS,
                {
                    **base,
                    **row,
                    "records": vcf["records"],
                    "samples": vcf["samples"],
                    "multiallelic_sites": vcf["multiallelic_sites"],
                    "transitions": vcf["transitions"],
                    "transversions": vcf["transversions"],
                },
            )
        )
        for sample, counts in vcf["genotypes"].items():
            rows.append((VCF_GENOTYPES, {**base, "sample": sample, **counts}))
    if "bam" in document:
        bam = document["bam"]
        rows.append(
            (
                BAM_HEADERS,
                {
                    **base,
                    "sort_order": bam["sort_order"],
                    "reference_count": bam["reference_count"],
                    "reference_length": bam["reference_length"],
                    "read_groups": len(bam["read_groups"]),
                    "samples": ",".join(bam["samples"]),
                    "size": file.get("size"),
                    "bytes_read": file.get("bytes_read"),
                },
            )
        )
    return rows
