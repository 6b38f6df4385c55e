"""UC7 Summarize on the embedded cloud: dataset rows from the run's results, Athena (DuckDB) summaries.

The run is made the way the pipeline makes it: the skeleton's ``discover`` writes the manifest,
``process_file`` writes each result, and ``summarize`` reads them back through ``chunks_key``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from genomics_pipeline.datasets import ROOT, SCHEMAS
from genomics_pipeline.files import SUFFIXES
from genomics_pipeline.qc import QcConfig, process_file
from genomics_pipeline.report import request_for
from genomics_pipeline.summary import SummaryConfig, queries, summarize
from scripts.localcloud import LocalCloud
from shared.analytics import AthenaRunner, AthenaSettings, dataset_location, glue_table_input
from shared.formats.samples import genomics as samples
from shared.polling.discovery import Chunk, discover, load_chunk
from shared.s3ap import S3AccessPoint

DATABASE = "uc7_test"
DAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as opened:
        yield opened


@pytest.fixture(scope="module")
def run(cloud: LocalCloud) -> dict[str, Any]:
    s3 = cloud.client("s3")
    for bucket in ("volume", "out"):
        s3.create_bucket(Bucket=bucket)
    cloud.client("athena").create_work_group(
        Name="uc7", Configuration={"ResultConfiguration": {"OutputLocation": "s3://out/athena-results/"}}
    )
    glue = cloud.client("glue")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for schema in SCHEMAS:
        glue.create_table(
            DatabaseName=DATABASE, TableInput=glue_table_input(schema, dataset_location("out", ROOT, schema))
        )
    vcf_a, vcf_b = samples.write_vcf(sites=20, seed=1), samples.write_vcf(sites=30, seed=2)
    files = {
        "seq/a_R1.fastq.gz": samples.write_fastq(samples.FastqSpec(reads=200), compress=True),
        "seq/b_R1.fastq": samples.write_fastq(samples.FastqSpec(reads=100, length=50, seed=4)),
        "seq/broken.fastq": samples.fastq_length_mismatch(samples.FastqSpec(reads=4)),
        "aln/x.bam": samples.write_bam(samples.BamSpec(records=300)),
        "var/a.vcf.gz": samples.bgzf_compress(vcf_a.encode()),
        "var/b.vcf": vcf_b.encode(),
        "notes/readme.txt": b"not listed",
    }
    for key, body in files.items():
        s3.put_object(Bucket="volume", Key=key, Body=body)
    source, output = S3AccessPoint("volume", s3), S3AccessPoint("out", s3)
    found = discover(source, output, run_id="run-1", suffixes=SUFFIXES)
    qc = QcConfig(use_case="genomics-pipeline", access_point="volume", output_bucket="out")
    for descriptor in json.loads(output.get_bytes(found.chunks_key)):
        for file in load_chunk(output, Chunk.from_dict(descriptor)):
            if file["key"] != "var/b.vcf":  # left without a result, as a throttled file would be
                process_file(source, output, {**file, "run_id": "run-1"}, qc)
    runner = AthenaRunner(AthenaSettings("uc7", DATABASE), client=cloud.client("athena"))
    cfg = SummaryConfig(
        use_case="genomics-pipeline", output_bucket="out", athena_workgroup="uc7", glue_database=DATABASE
    )
    step = summarize(output, runner, cfg, run_id="run-1", chunks_key=found.chunks_key, today=DAY)
    document = json.loads(output.get_bytes(step["summary_key"]))
    return {"step": step, "summary": document, "vcf_a": vcf_a}


def test_every_manifest_file_is_counted_and_the_unfinished_one_is_missing(run: dict[str, Any]) -> None:
    assert run["step"]["files"] == 6
    assert run["step"]["by_status"] == {"SUCCEEDED": 4, "FAILED": 1, "MISSING": 1}
    assert run["summary"]["failures"][0]["key"] == "seq/broken.fastq"
    assert run["step"]["datasets"] == {
        "files": 5,
        "fastq_qc": 2,
        "bam_headers": 1,
        "vcf_stats": 1,
        "vcf_genotypes": 3,
    }


def test_athena_answers_from_the_tables_the_run_wrote(run: dict[str, Any]) -> None:
    athena = run["summary"]["athena"]
    assert athena["fastq_totals"][0]["reads"] == 300
    assert athena["fastq_totals"][0]["files"] == 2
    kinds = {(row["kind"], row["status"]): row["files"] for row in athena["files_by_kind_and_status"]}
    assert kinds == {
        ("bam", "SUCCEEDED"): 1,
        ("fastq", "FAILED"): 1,
        ("fastq", "SUCCEEDED"): 2,
        ("vcf", "SUCCEEDED"): 1,
    }
    assert athena["variant_types"][0]["records"] == 20
    missing = sum(line.count("./.") for line in run["vcf_a"].splitlines() if not line.startswith("#"))
    assert sum(row["missing"] for row in athena["genotypes_by_sample"]) == missing
    assert [row["sample"] for row in athena["genotypes_by_sample"]] == ["NA12878", "NA12891", "NA12892"]
    assert athena["bam_headers"][0]["reference_count"] == 3
    assert run["summary"]["athena_bytes_scanned"] > 0


def test_queries_are_pinned_to_the_run_and_its_partition() -> None:
    for sql in queries(DATABASE, "run-1", "2026-11-30").values():
        assert "dt = '2026-11-30' AND run_id = 'run-1'" in sql
    with pytest.raises(ValueError, match="run id"):
        queries(DATABASE, "x' OR '1'='1", "2026-11-30")


def test_the_report_request_sends_aggregates_not_rows(run: dict[str, Any]) -> None:
    request = request_for(run["summary"])
    assert request.facts["by_status"] == {"SUCCEEDED": 4, "FAILED": 1, "MISSING": 1}
    assert request.facts["fastq"]["reads"] == 300
    assert "BAM headers" in request.tables
