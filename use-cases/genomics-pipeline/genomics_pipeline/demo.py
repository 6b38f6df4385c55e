"""UC7 genomics-pipeline on the embedded local cloud: FASTQ, BAM and VCF QC, tables, Athena, report.

Two runs: the first reads every seeded file (one result document per file version: statistics, or
FAILED with what is wrong and where), writes the dataset tables, answers the run's summaries with
Athena (DuckDB locally) and writes the Bedrock report; the second finds every version done and
processes nothing.

Samples (``shared.formats.samples.genomics``): FASTQ in Phred+33 (gzip and plain), in Phred+64 (an
old Illumina 1.5 run) and one of poor quality that QC flags; a BAM whose header sits in front of
about a megabyte of alignments; VCFs in BGZF and plain text with SNVs, MNVs, indels, multi-allelic
sites and ``./.`` genotypes; and broken files that must fail: a FASTQ whose quality line is one
character short, a truncated FASTQ.gz, a truncated BAM, a gzip file named ``.bam``, and a VCF
with a missing column.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.formats.samples import genomics as samples

logger = logging.getLogger(__name__)

BASE = "sequencing/2026-11-30/"


@dataclass(frozen=True)
class Sample:
    key: str
    kind: str
    defect: str | None = None  # what the result's reason must name


def plan() -> list[Sample]:
    return [
        Sample(f"{BASE}fastq/NA12878_L001_R1.fastq.gz", "fastq"),
        Sample(f"{BASE}fastq/NA12878_L001_R2.fastq.gz", "fastq"),
        Sample(f"{BASE}fastq/NA12891_L001_R1.fastq", "fastq"),
        Sample(f"{BASE}fastq/legacy/HG00096_s_1_sequence.fq", "fastq"),
        Sample(f"{BASE}fastq/NA12892_L002_R1.fastq.gz", "fastq"),  # poor quality: WARN
        Sample(f"{BASE}fastq/broken/mismatch_R1.fastq", "fastq", "line 12"),
        Sample(f"{BASE}fastq/broken/cut_R1.fastq.gz", "fastq", "truncated"),
        Sample(f"{BASE}bam/NA12878.sorted.bam", "bam"),
        Sample(f"{BASE}bam/NA12891.sorted.bam", "bam"),
        Sample(f"{BASE}bam/broken/NA12892.partial.bam", "bam", "truncated"),
        Sample(f"{BASE}bam/broken/reads.gz.bam", "bam", "not BGZF"),
        Sample(f"{BASE}vcf/trio.joint.vcf.gz", "vcf"),
        Sample(f"{BASE}vcf/NA12878.hc.vcf", "vcf"),
        Sample(f"{BASE}vcf/broken/missing_column.vcf", "vcf", "columns"),
    ]


def _body(sample: Sample, index: int) -> bytes:
    name = sample.key.rsplit("/", 1)[1]
    if sample.kind == "fastq":
        spec = samples.FastqSpec(reads=300, length=100, seed=index)
        if "legacy" in sample.key:
            spec = samples.FastqSpec(reads=300, length=76, phred=64, seed=index)
        if "NA12892" in name:
            spec = samples.FastqSpec(reads=300, length=150, mean_quality=24, n_rate=0.08, seed=index)
        if sample.defect == "line 12":
            return samples.fastq_length_mismatch(spec)
        data = samples.write_fastq(spec, compress=name.endswith(".gz"))
        return data[: len(data) * 2 // 3] if sample.defect == "truncated" else data
    if sample.kind == "bam":
        if sample.defect == "not BGZF":
            import gzip

            return gzip.compress(b"BAM\x01" + b"\x00" * 64, mtime=0)
        data = samples.write_bam(samples.BamSpec(records=5000 if "NA12878" in name else 800, seed=index))
        return data[: len(data) // 2] if sample.defect == "truncated" else data
    text = samples.write_vcf(sites=66, seed=index)
    if sample.defect == "columns":
        lines = text.splitlines()
        lines[20] = lines[20].rsplit("\t", 1)[0]
        text = "\n".join(lines) + "\n"
    data = text.encode()
    return samples.bgzf_compress(data) if name.endswith(".gz") else data


def parameters(access_point: Any) -> dict[str, str]:
    return {
        "AccessPointName": access_point.name,
        "AccessPointAlias": access_point.arn,
        "EnableXRayTracing": "true",
        "EnableCloudWatchAlarms": "true",
        "MaxFilesPerRun": "100",
    }


def seed(cloud: Any, access_point: Any, files: int) -> int:
    """Write the planned samples (``files`` is ignored: every variant is needed once)."""
    s3 = cloud.client("s3")
    chosen = plan()
    for index, sample in enumerate(chosen):
        s3.put_object(Bucket=access_point.arn, Key=sample.key, Body=_body(sample, index))
    return len(chosen)


def _results(cloud: Any, bucket: str, access_point: Any) -> dict[str, dict[str, Any]]:
    from shared.polling.keys import output_key

    s3 = cloud.client("s3")
    found: dict[str, dict[str, Any]] = {}
    for sample in plan():
        etag = s3.head_object(Bucket=access_point.arn, Key=sample.key)["ETag"].strip('"')
        found[sample.key] = cloud.read_json(bucket, output_key(sample.key, etag))
    return found


def _check_results(results: dict[str, dict[str, Any]]) -> tuple[bool, list[str]]:
    """Every good file SUCCEEDED, every broken one FAILED with a reason naming its defect."""
    problems = []
    for sample in plan():
        document = results[sample.key]
        if sample.defect is None and document["status"] != "SUCCEEDED":
            problems.append(f"{sample.key}: {document['status']} {document.get('reason', '')}")
        if sample.defect and (
            document["status"] != "FAILED" or sample.defect not in document.get("reason", "")
        ):
            problems.append(
                f"{sample.key}: expected FAILED naming {sample.defect!r}, got {document['status']}"
            )
    return not problems, problems


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
    run = cloud.read_json(bucket, f"runs/{result.name}/summary.json")
    summary.files_detected = int(run["files"])
    with step("read each file's result: statistics, or FAILED naming what is wrong and where"):
        results = _results(cloud, bucket, access_point)
        good, problems = _check_results(results)
        summary.extra["by_status"] = run["by_status"]
        summary.extra["failures"] = {
            item["key"].rsplit("/", 1)[1]: item["reason"] for item in run["failures"]
        }
        summary.flow(
            "broken files are FAILED with their reason, the rest SUCCEEDED", good, "; ".join(problems)
        )
    with step("compare bytes read with file sizes (BAM: header only; FASTQ/VCF: one streamed pass)"):
        ratios = {}
        for key, document in results.items():
            file = document.get("file") or {}
            if document["status"] == "SUCCEEDED":
                ratios[key.rsplit("/", 1)[1]] = f"{file['bytes_read']} of {file['size']} bytes"
        summary.extra["bytes read"] = ratios
        bam = results[f"{BASE}bam/NA12878.sorted.bam"]["file"]
        summary.extra["bam header fraction read"] = round(bam["bytes_read"] / bam["size"], 4)
        summary.flow(
            "a BAM header costs a fraction of the file",
            bam["bytes_read"] < bam["size"] / 2,
            f"{bam['bytes_read']} of {bam['size']} bytes",
        )
    with step("Athena summaries of the run (DuckDB over the dataset tables)"):
        athena = run["athena"]
        summary.extra["fastq totals"] = (athena.get("fastq_totals") or [{}])[0]
        summary.extra["variant types"] = (athena.get("variant_types") or [{}])[0]
        summary.extra["genotypes by sample"] = athena.get("genotypes_by_sample", [])
        summary.extra["fastq flagged"] = [
            {"file": r.key.rsplit("/", 1)[1], "flags": r.flags} for r in _flagged(results)
        ]
        summary.extra["datasets"] = run["datasets"]
        summary.flow(
            "dataset tables answer the run's summaries",
            bool(athena.get("genotypes_by_sample")) and bool(athena.get("fastq_totals")),
            f"{run['athena_bytes_scanned']} bytes scanned",
        )
    with step("the run's report (shared report step, Bedrock stand-in)"):
        report = (result.output or {}).get("report", {}) if isinstance(result.output, dict) else {}
        summary.extra["report"] = report.get("report_markdown", report.get("status", ""))
        summary.flow("report written", str(report.get("report_markdown", "")).endswith("report.md"))
    with step("run again: every file version has its result, so nothing is processed"):
        again = cloud.run_state_machine("StateMachine", {}, timeout_seconds=300)
        idle = again.succeeded and again.states_entered().get("NothingToDo") == 1
        summary.flow("a second run finds nothing new", idle, again.status)
    summary.extra["runs"] = 2
    keys: list[str] = []
    for prefix in (f"runs/{result.name}/", "results/", "datasets/", "reports/"):
        for page in (
            cloud.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
    summary.output_keys = sorted(keys)
    summary.extra["functions invoked"] = cloud.function_counts(stack)


@dataclass(frozen=True)
class _Flagged:
    key: str
    flags: list[str]


def _flagged(results: dict[str, dict[str, Any]]) -> list[_Flagged]:
    return [
        _Flagged(key, list(doc["file"]["flags"]))
        for key, doc in results.items()
        if doc["status"] == "SUCCEEDED" and doc["file"].get("flags")
    ]
