"""Quality control of one FASTQ, VCF or BAM file version, read through the ranged reader.

* FASTQ and VCF are streamed: one GET pinned to the listed ETag, decompressed chunk by chunk
  (plain, gzip or BGZF), so memory is flat in the file size. A file larger than ``MAX_FASTQ_GIB``
  or ``MAX_VCF_GIB`` is a FAILED result with that reason rather than a Lambda that times out.
* BAM: only the header, from the first BGZF blocks, and the 28-byte end-of-file block; a few
  ranged GETs whatever the file size.

The result document (``shared.polling.results``) holds the statistics in a section named after
the kind, ``bytes_read`` (what the reader fetched, also the ``BytesRead`` metric) and the QC
``flags`` against the stack's thresholds (low Q30, high N rate, low Ts/Tv). A malformed file (any
typed reader error) is a FAILED result naming what is wrong and where; a file changed while being
read raises, so the Catch records it and the next version is read afresh.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from genomics_pipeline.files import BAM, FASTQ, VCF, kind_of
from shared.config import CommonConfig, env
from shared.errors import FAILED, SUCCEEDED, PatternError
from shared.formats.bam import BamError, read_bam_header
from shared.formats.fastq import FastqError, scan_fastq
from shared.formats.gzstream import CompressedStreamError, LineTooLongError
from shared.formats.ranged import RangedReader, ShortReadError
from shared.formats.vcf import VcfError, scan_vcf
from shared.observability import stats, xray_subsegment
from shared.polling.keys import output_key
from shared.polling.results import result_document, write_result
from shared.s3ap import S3AccessPoint

logger = logging.getLogger(__name__)

GIB = 1024**3
STREAM_CHUNK = 1024 * 1024
# A file's own fault: a FAILED result. Anything else (access, throttling, a version change) raises.
FORMAT_ERRORS = (FastqError, VcfError, BamError, CompressedStreamError, LineTooLongError, ShortReadError)


@dataclasses.dataclass(frozen=True, kw_only=True)
class QcConfig(CommonConfig):
    access_point: str = env("ACCESS_POINT")
    output_bucket: str = env("OUTPUT_BUCKET")
    max_fastq_gib: float = env("MAX_FASTQ_GIB", 8.0)
    max_vcf_gib: float = env("MAX_VCF_GIB", 0.5)
    min_q30_fraction: float = env("MIN_Q30_FRACTION", 0.75)
    max_n_rate: float = env("MAX_N_RATE", 0.05)
    min_ts_tv: float = env("MIN_TS_TV", 1.5)
    min_snvs_for_ts_tv: int = env("MIN_SNVS_FOR_TS_TV", 20)
    header_block_kib: int = env("HEADER_BLOCK_KIB", 16)


@dataclasses.dataclass(frozen=True)
class SourceFile:
    key: str
    etag: str
    size: int
    kind: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> SourceFile:
        key = str(event["key"])
        return cls(key, str(event["etag"]), int(event["size"]), str(event.get("kind") or kind_of(key)))


def fastq_flags(section: dict[str, Any], cfg: QcConfig) -> list[str]:
    flags = []
    if section["reads"] == 0:
        flags.append("no reads")
    if section["reads"] and section["q30_fraction"] < cfg.min_q30_fraction:
        flags.append(f"Q30 fraction {section['q30_fraction']:.3f} below {cfg.min_q30_fraction}")
    if section["n_rate"] > cfg.max_n_rate:
        flags.append(f"N rate {section['n_rate']:.4f} above {cfg.max_n_rate}")
    return flags


def vcf_flags(section: dict[str, Any], cfg: QcConfig) -> list[str]:
    flags = []
    if section["records"] == 0:
        flags.append("no variant records")
    snvs = section["variant_types"]["snv"]
    ratio = section["ts_tv"]
    if snvs >= cfg.min_snvs_for_ts_tv and ratio is not None and ratio < cfg.min_ts_tv:
        flags.append(f"Ts/Tv {ratio:.2f} below {cfg.min_ts_tv} (excess transversions: possible artefacts)")
    return flags


def bam_flags(section: dict[str, Any]) -> list[str]:
    flags = []
    if not section["reference_count"]:
        flags.append("no references (unaligned BAM)")
    if not section["read_groups"]:
        flags.append("no read groups")
    return flags


def inspect(reader: RangedReader, file: SourceFile) -> dict[str, Any]:
    """The statistics section of one file; reader errors raise their typed error."""
    with xray_subsegment("read_" + file.kind, {"size": file.size}):
        if file.kind == BAM:
            header = read_bam_header(reader, size=file.size, name=file.key)
            if header.eof_marker is False:
                raise CompressedStreamError(
                    f"{file.key}: no BGZF end-of-file block in the last 28 bytes: the file is truncated",
                    offset=file.size,
                    member_offset=file.size,
                    name=file.key,
                )
            return header.to_dict()
        if file.kind == FASTQ:
            return scan_fastq(reader.iter_chunks(chunk_size=STREAM_CHUNK), name=file.key).to_dict()
        if file.kind == VCF:
            return scan_vcf(reader.iter_chunks(chunk_size=STREAM_CHUNK), name=file.key).to_dict()
    raise ValueError(f"unknown kind {file.kind!r}")


def check_file(source: S3AccessPoint, file: SourceFile, cfg: QcConfig, *, run_id: str) -> dict[str, Any]:
    """The result document of one file version (SUCCEEDED with its statistics, or FAILED why)."""
    where: dict[str, Any] = {"kind": file.kind, "size": file.size, "run_id": run_id}
    limits = {FASTQ: ("MAX_FASTQ_GIB", cfg.max_fastq_gib), VCF: ("MAX_VCF_GIB", cfg.max_vcf_gib)}
    variable, gib = limits.get(file.kind, ("", 0.0))
    if variable and file.size > int(gib * GIB):
        reason = f"{file.size} bytes is above {variable}={gib} for one Lambda pass"
        return result_document(
            key=file.key, etag=file.etag, status=FAILED, source=source.target, reason=reason,
            error="FileTooLargeError", sections={"file": {**where, "bytes_read": 0}},
        )  # fmt: skip
    reader = RangedReader(
        source, file.key, etag=file.etag, size=file.size, block_size=cfg.header_block_kib * 1024, max_blocks=8
    )
    try:
        with reader:
            section = inspect(reader, file)
    except FORMAT_ERRORS as error:
        return result_document(
            key=file.key,
            etag=file.etag,
            status=FAILED,
            source=source.target,
            reason=error.reason,
            error=type(error).__name__,
            sections={
                "file": {**where, "bytes_read": reader.stats.bytes_fetched},
                "error_details": _details(error),
            },
        )
    flags = {FASTQ: fastq_flags, VCF: vcf_flags}.get(file.kind)
    found = flags(section, cfg) if flags else bam_flags(section)
    return result_document(
        key=file.key,
        etag=file.etag,
        status=SUCCEEDED,
        source=source.target,
        sections={
            "file": {
                **where,
                "bytes_read": reader.stats.bytes_fetched,
                "flags": found,
                "qc": "WARN" if found else "PASS",
            },
            file.kind: section,
        },
    )


def _details(error: PatternError) -> dict[str, Any]:
    return {k: v for k, v in error.details.items() if isinstance(v, str | int | float | bool)}


def process_file(
    source: S3AccessPoint, output: S3AccessPoint, event: dict[str, Any], cfg: QcConfig
) -> dict[str, Any]:
    """QC one file, write its result document, and return the step's summary."""
    file = SourceFile.from_event(event)
    document = check_file(source, file, cfg, run_id=str(event["run_id"]))
    write_result(output, document)
    read = document["file"].get("bytes_read") or 0
    stats().put_metric("BytesRead", read, "Bytes")
    if document["status"] == SUCCEEDED:
        stats().processed(files=1, bytes_=read)
    else:
        stats().failed()
        logger.warning("file %s is FAILED: %s", file.key, document["reason"])
    return {
        "key": file.key,
        "kind": file.kind,
        "status": document["status"],
        "output_key": output_key(file.key, file.etag),
        **({"reason": document["reason"]} if document["status"] == FAILED else {}),
    }
