"""UC7 readers: FASTQ.gz throughput against ``zcat | wc -l``, BAM-header bytes read, flat memory.

* FASTQ.gz QC throughput (reads, bases, GC, quality, Q30, N, lengths, structure checks) in
  uncompressed MB/s, beside ``zcat file | wc -l`` of the same file: the floor a QC pass cannot
  beat, since it must at least decompress and split lines. The ratio says what the statistics cost.
  The same file is also read through the ranged reader on moto (one pinned GET, streamed).
* VCF.bgz statistics (types, Ts/Tv, genotypes of three samples) in records/s and MB/s.
* BAM header: bytes the ranged reader fetched against the file size, for BAMs of 1, 16 and 64 MiB
  whose header is the same; the figure must stay flat (at most three 16 KiB blocks at every size),
  a tiny fraction of the file.
* Peak memory (tracemalloc) of the FASTQ.gz and VCF.bgz scans for a small and an eight-times
  larger file: flat in file size. Beside it, the anti-pattern the issue names: ``gzip.decompress``
  of the whole file.
"""

from __future__ import annotations

import gzip
import logging
import random
import shutil
import subprocess
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

from scripts.bench import Report, stopwatch
from shared.formats.bam import read_bam_header
from shared.formats.fastq import scan_fastq
from shared.formats.ranged import RangedReader
from shared.formats.samples import genomics as samples
from shared.formats.vcf import scan_vcf

logger = logging.getLogger(__name__)

MB = 1e6
MIB = 1 << 20
FASTQ_BLOCK_READS = 20_000  # distinct reads, repeated; beyond gzip's 32 KiB window, so ratio stays real
HEADER_FRACTION_TARGET = 0.01  # of a 64 MiB BAM
HEADER_FLAT_BYTES = 3 * 16 * 1024  # three 16 KiB blocks: the header's and the end-of-file marker's
MEMORY_GROWTH_TARGET = 1.5  # peak of the 8x file over peak of the small one
THROUGHPUT_FLOOR_SHARE = 0.05  # QC at least this share of zcat | wc -l


def _fastq_gz(path: Path, copies: int) -> int:
    """Write a FASTQ.gz of ``copies`` x 20k distinct 150 bp reads; return its uncompressed size."""
    block = b"".join(samples.fastq_records(samples.FastqSpec(reads=FASTQ_BLOCK_READS, length=150, seed=7)))
    with gzip.open(path, "wb", compresslevel=6) as out:
        for _ in range(copies):
            out.write(block)
    return len(block) * copies


def _chunks(path: Path, size: int = MIB) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _zcat_wc_seconds(path: Path) -> float:
    if not shutil.which("zcat") or not shutil.which("wc"):
        raise RuntimeError("zcat and wc are needed for the floor")
    with stopwatch() as elapsed:
        subprocess.run(f"zcat '{path}' | wc -l", shell=True, check=True, capture_output=True)
    return elapsed()


def _throughput_rows(report: Report, work: Path) -> None:
    path = work / "run.fastq.gz"
    raw = _fastq_gz(path, copies=12)
    floor = min(_zcat_wc_seconds(path) for _ in range(3))
    with stopwatch() as elapsed:
        stats = scan_fastq(_chunks(path), name=path.name)
    ours = elapsed()
    if stats.reads != FASTQ_BLOCK_READS * 12:
        raise RuntimeError(f"read {stats.reads} reads, wrote {FASTQ_BLOCK_READS * 12}")
    share = floor / ours
    report.add(
        f"fastq.gz QC, {raw / MB:.0f} MB ({path.stat().st_size / MB:.0f} MB gz) vs zcat|wc -l",
        raw / MB / ours,
        "MB/s",
        baseline=raw / MB / floor,
        target=f"≥ {THROUGHPUT_FLOOR_SHARE:g}x the floor",
        met=share >= THROUGHPUT_FLOOR_SHARE,
    )
    report.add("fastq.gz QC reads/s", stats.reads / ours, "reads/s")
    _moto_stream_row(report, path, raw, ours)


def _moto_stream_row(report: Report, path: Path, raw: int, local_seconds: float) -> None:
    from moto import mock_aws

    from shared.s3ap import S3AccessPoint

    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="volume")
        s3.put_object(Bucket="volume", Key="run.fastq.gz", Body=path.read_bytes())
        reader = RangedReader(S3AccessPoint("volume", s3), "run.fastq.gz")
        with stopwatch() as elapsed:
            scan_fastq(reader.iter_chunks(chunk_size=MIB), name="run.fastq.gz")
        seconds = elapsed()
    report.add(
        "fastq.gz QC through the ranged reader (moto GET)",
        raw / MB / seconds,
        "MB/s",
        baseline=raw / MB / local_seconds,
        target="same order as from a local file",
    )
    report.add("  GETs for the whole file", reader.stats.requests, "requests")


def _vcf_rows(report: Report, work: Path) -> None:
    text = samples.write_vcf(sites=20000, seed=5)
    header_end = text.index("\n", text.index("#CHROM")) + 1
    path = work / "cohort.vcf.gz"
    raw = (text[:header_end] + text[header_end:] * 5).encode()
    path.write_bytes(samples.bgzf_compress(raw))
    with stopwatch() as elapsed:
        stats = scan_vcf(_chunks(path), name=path.name)
    seconds = elapsed()
    label = f"vcf.bgz scan, {stats.records:,} records x 3 samples"
    report.add(label, stats.records / seconds, "records/s")
    report.add("vcf.bgz scan, uncompressed", len(raw) / MB / seconds, "MB/s")


def _bam(size: int) -> bytes:
    """A BAM whose header is the samples' header and whose body is ``size`` bytes of BGZF payload."""
    header = samples.write_bam(samples.BamSpec(records=0))[: -len(samples.BGZF_EOF)]
    rng = random.Random(size)
    body = samples.bgzf_compress(rng.randbytes(size), level=1)
    return header + body


def _bam_rows(report: Report) -> None:
    from moto import mock_aws

    from shared.s3ap import S3AccessPoint

    fetched: list[int] = []
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="volume")
        ap = S3AccessPoint("volume", s3)
        for mib in (1, 16, 64):
            data = _bam(mib * MIB)
            s3.put_object(Bucket="volume", Key=f"{mib}.bam", Body=data)
            reader = RangedReader(ap, f"{mib}.bam", size=len(data), block_size=16 * 1024, max_blocks=8)
            header = read_bam_header(reader, size=len(data), name=f"{mib}.bam")
            if not header.eof_marker or len(header.references) != 3:
                raise RuntimeError("the bench BAM did not read back")
            fetched.append(reader.stats.bytes_fetched)
            fraction = reader.stats.bytes_fetched / len(data)
            report.add(
                f"bam header bytes read, {mib} MiB file ({reader.stats.requests} GETs)",
                reader.stats.bytes_fetched,
                "bytes",
                baseline=len(data),
                target=f"≤ {HEADER_FRACTION_TARGET:.0%} at 64 MiB" if mib == 64 else "",
                met=fraction <= HEADER_FRACTION_TARGET if mib == 64 else None,
            )
    # Flat: the header's blocks plus the block holding the 28-byte end-of-file marker, whatever
    # the size (that last block is partial, so the figure moves a little with the file's length).
    report.add(
        "bam header bytes read, most over all sizes",
        max(fetched),
        "bytes",
        target=f"≤ {HEADER_FLAT_BYTES // 1024} KiB at every size",
        met=max(fetched) <= HEADER_FLAT_BYTES,
    )


def _peak(action: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def _memory_rows(report: Report, work: Path) -> None:
    small, large = work / "small.fastq.gz", work / "large.fastq.gz"
    _fastq_gz(small, copies=1)
    raw_large = _fastq_gz(large, copies=8)
    peak_small = _peak(lambda: scan_fastq(_chunks(small)))
    peak_large = _peak(lambda: scan_fastq(_chunks(large)))
    report.add(
        f"fastq.gz scan peak, {raw_large / MB:.0f} MB vs 1/8 of it",
        peak_large,
        "MiB",
        baseline=peak_small,
        target=f"flat (≤ {MEMORY_GROWTH_TARGET:g}x)",
        met=peak_large <= MEMORY_GROWTH_TARGET * peak_small,
    )
    whole = _peak(lambda: len(gzip.decompress(large.read_bytes())))
    report.add(
        "fastq.gz scan peak vs gzip.decompress of the whole file",
        peak_large,
        "MiB",
        baseline=whole,
        target="a fraction of whole-file",
        met=peak_large < whole / 4,
    )
    text = samples.write_vcf(sites=3000, seed=5)
    header_end = text.index("\n", text.index("#CHROM")) + 1
    header, body = text[:header_end], text[header_end:]
    vcf_small, vcf_large = work / "small.vcf.gz", work / "large.vcf.gz"
    vcf_small.write_bytes(samples.bgzf_compress((header + body).encode()))
    vcf_large.write_bytes(samples.bgzf_compress((header + body * 8).encode()))
    peak_vcf_small = _peak(lambda: scan_vcf(_chunks(vcf_small)))
    peak_vcf_large = _peak(lambda: scan_vcf(_chunks(vcf_large)))
    report.add(
        f"vcf.bgz scan peak, {vcf_large.stat().st_size / MB:.1f} MB vs 1/8 of it",
        peak_vcf_large,
        "MiB",
        baseline=peak_vcf_small,
        target=f"flat (≤ {MEMORY_GROWTH_TARGET:g}x)",
        met=peak_vcf_large <= MEMORY_GROWTH_TARGET * peak_vcf_small,
    )


def run(report: Report) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-genomics-"))
    try:
        _throughput_rows(report, work)
        _vcf_rows(report, work)
        _bam_rows(report)
        _memory_rows(report, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
