"""UC7 QualityControl on moto: every kind read through the ranged reader, broken files FAILED with
their reason, a file that changed since listing raises, bytes read counted against the size."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from genomics_pipeline.files import UnknownKindError, kind_of
from genomics_pipeline.qc import QcConfig, process_file
from shared.formats.ranged import ObjectChangedError
from shared.formats.samples import genomics as samples
from shared.polling.keys import output_key
from shared.s3ap import S3AccessPoint

OUT = "uc7-output"


@pytest.fixture
def env(access_point: dict[str, Any]) -> dict[str, Any]:
    access_point["client"].create_bucket(Bucket=OUT)
    s3 = access_point["client"]
    cfg = QcConfig(use_case="genomics-pipeline", access_point=access_point["arn"], output_bucket=OUT)
    return {
        "s3": s3,
        "cfg": cfg,
        "source": S3AccessPoint(access_point["arn"], s3),
        "output": S3AccessPoint(OUT, s3),
        "bucket": access_point["bucket"],
    }


def run(env: dict[str, Any], key: str, body: bytes, *, cfg: QcConfig | None = None) -> dict[str, Any]:
    env["s3"].put_object(Bucket=env["bucket"], Key=key, Body=body)
    info = env["source"].head(key)
    event = {"key": key, "etag": info.etag, "size": info.size, "last_modified": "x", "kind": kind_of(key)}
    summary = process_file(env["source"], env["output"], {**event, "run_id": "r1"}, cfg or env["cfg"])
    document: dict[str, Any] = json.loads(env["output"].get_bytes(output_key(key, info.etag)))
    assert summary["status"] == document["status"]
    return document


def test_fastq_gz_is_streamed_and_scored(env: dict[str, Any]) -> None:
    body = samples.write_fastq(samples.FastqSpec(reads=400, length=120), compress=True)
    document = run(env, "s/a_R1.fastq.gz", body)
    assert document["status"] == "SUCCEEDED"
    assert document["fastq"]["reads"] == 400
    assert document["fastq"]["quality_encoding"] == "phred33"
    assert document["file"]["bytes_read"] == len(body)
    assert document["file"]["qc"] == "PASS"


def test_poor_fastq_is_flagged_not_failed(env: dict[str, Any]) -> None:
    body = samples.write_fastq(samples.FastqSpec(reads=100, mean_quality=22, n_rate=0.1))
    document = run(env, "s/poor.fq", body)
    assert document["status"] == "SUCCEEDED" and document["file"]["qc"] == "WARN"
    assert any("Q30" in flag for flag in document["file"]["flags"])
    assert any("N rate" in flag for flag in document["file"]["flags"])


def test_a_length_mismatch_is_failed_naming_its_line(env: dict[str, Any]) -> None:
    document = run(env, "s/bad.fastq", samples.fastq_length_mismatch(samples.FastqSpec(reads=5)))
    assert document["status"] == "FAILED"
    assert document["error"] == "FastqError"
    assert document["error_details"]["line"] == 12
    assert "line 12" in document["reason"]


def test_a_truncated_fastq_gz_is_failed_naming_the_offset(env: dict[str, Any]) -> None:
    body = samples.write_fastq(samples.FastqSpec(reads=300), compress=True)
    document = run(env, "s/cut.fastq.gz", body[:-100])
    assert document["status"] == "FAILED" and document["error"] == "CompressedStreamError"
    assert document["error_details"]["offset"] == len(body) - 100


def test_vcf_bgzf_counts_and_missing_genotypes(env: dict[str, Any]) -> None:
    text = samples.write_vcf(sites=33, seed=3)
    document = run(env, "v/cohort.vcf.gz", samples.bgzf_compress(text.encode()))
    assert document["status"] == "SUCCEEDED"
    vcf = document["vcf"]
    assert vcf["records"] == 33
    missing = sum(line.count("./.") for line in text.splitlines() if not line.startswith("#"))
    assert sum(s["missing"] for s in vcf["genotypes"].values()) == missing


def test_bam_header_reads_a_small_fraction(env: dict[str, Any]) -> None:
    body = samples.write_bam(samples.BamSpec(records=8000))
    document = run(env, "b/x.bam", body)
    assert document["status"] == "SUCCEEDED"
    assert document["bam"]["reference_count"] == 3
    assert document["bam"]["samples"] == ["NA12878"]
    assert document["file"]["bytes_read"] < len(body) / 10


def test_broken_bams_are_failed(env: dict[str, Any]) -> None:
    body = samples.write_bam(samples.BamSpec(records=2000))
    truncated = run(env, "b/cut.bam", body[: len(body) // 2])
    assert truncated["status"] == "FAILED" and "truncated" in truncated["reason"]
    plain = run(env, "b/plain.bam", gzip.compress(b"BAM\x01" + b"\x00" * 40))
    assert plain["status"] == "FAILED" and "not BGZF" in plain["reason"]


def test_a_file_too_large_to_stream_is_failed_with_the_limit(env: dict[str, Any]) -> None:
    cfg = QcConfig(
        use_case="genomics-pipeline",
        access_point=env["cfg"].access_point,
        output_bucket=OUT,
        max_fastq_gib=1e-6,
    )
    document = run(env, "s/big.fastq", samples.write_fastq(samples.FastqSpec(reads=50)), cfg=cfg)
    assert document["status"] == "FAILED" and "MAX_FASTQ_GIB" in document["reason"]
    assert document["file"]["bytes_read"] == 0


def test_a_file_changed_since_listing_raises_for_the_catch(env: dict[str, Any]) -> None:
    key = "s/moving.fastq"
    env["s3"].put_object(Bucket=env["bucket"], Key=key, Body=samples.write_fastq(samples.FastqSpec(reads=10)))
    listed = env["source"].head(key)
    env["s3"].put_object(Bucket=env["bucket"], Key=key, Body=samples.write_fastq(samples.FastqSpec(reads=20)))
    event = {"key": key, "etag": listed.etag, "size": listed.size, "last_modified": "x", "kind": "fastq"}
    with pytest.raises(ObjectChangedError):
        process_file(env["source"], env["output"], {**event, "run_id": "r1"}, env["cfg"])


@pytest.mark.parametrize(
    ("key", "kind"),
    [("a/R1.FASTQ.GZ", "fastq"), ("a.fq", "fastq"), ("b.vcf.bgz", "vcf"), ("c.vcf", "vcf"), ("d.bam", "bam")],
)
def test_kind_of(key: str, kind: str) -> None:
    assert kind_of(key) == kind


def test_kind_of_rejects_other_files() -> None:
    with pytest.raises(UnknownKindError):
        kind_of("notes.txt")
