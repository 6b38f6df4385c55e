"""FASTQ quality control, streamed: reads, bases, GC%, mean quality, Q30 fraction, N rate, lengths.

Hand-written rather than Biopython or pysam: Biopython's parser builds one object per read (tens
of times slower, and it needs the encoding given up front), pysam has no wheel that a Lambda arm64
layer can take without building htslib, and the statistics here are byte counts that C-level
``bytes`` methods compute per batch of reads. The input is any iterable of byte chunks, plain or
gzip/BGZF (:func:`shared.formats.gzstream.iter_decoded`), so memory is one batch of reads whatever
the file size.

The quality encoding is detected, not assumed: Phred+33 (Sanger, Illumina 1.8+) when any quality
byte is below ``;`` (59), Phred+64 (Illumina 1.3-1.7) when every byte is at least ``@`` (64) and
some exceed ``J`` (74), which Phred+33 reaches only above Q41. The first batch decides; a later
byte outside the decided range is a :class:`FastqError`. Every structural problem (a header
without ``@``, a separator without ``+``, a sequence and quality of different lengths, a record cut
short, a byte that is not a base or a quality) is a :class:`FastqError` naming its line.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.errors import PatternError
from shared.formats.gzstream import StreamStats, iter_decoded, iter_lines

logger = logging.getLogger(__name__)

PHRED33, PHRED64 = 33, 64
BATCH_READS = 4096
MAX_LENGTH_BINS = 50
# IUPAC nucleotide codes (either case) and the gap/unknown symbols some tools write.
_BASES = b"ACGTUNRYSWKMBDHVacgtunryswkmbdhv.-"
_GC = (b"G", b"C", b"g", b"c", b"S", b"s")


class FastqError(PatternError, ValueError):
    """A FASTQ record is malformed; ``line`` is the 1-based line where the problem is."""


@dataclass
class FastqStats:
    """The QC summary of one FASTQ file."""

    reads: int = 0
    bases: int = 0
    gc_bases: int = 0
    n_bases: int = 0
    quality_sum: int = 0
    q30_bases: int = 0
    encoding: str = ""
    min_quality_byte: int = 255
    max_quality_byte: int = 0
    lengths: Counter[int] = field(default_factory=Counter)
    compressed_bytes: int = 0
    uncompressed_bytes: int = 0

    @property
    def gc_percent(self) -> float:
        return 100.0 * self.gc_bases / self.bases if self.bases else 0.0

    @property
    def n_rate(self) -> float:
        return self.n_bases / self.bases if self.bases else 0.0

    @property
    def mean_quality(self) -> float:
        return self.quality_sum / self.bases if self.bases else 0.0

    @property
    def q30_fraction(self) -> float:
        return self.q30_bases / self.bases if self.bases else 0.0

    def length_distribution(self, max_bins: int = MAX_LENGTH_BINS) -> dict[str, int]:
        """Read counts by length; above ``max_bins`` distinct lengths, by ranges ``"lo-hi"``."""
        if len(self.lengths) <= max_bins:
            return {str(length): count for length, count in sorted(self.lengths.items())}
        low, high = min(self.lengths), max(self.lengths)
        width = -(-(high - low + 1) // max_bins)
        bins: Counter[int] = Counter()
        for length, count in self.lengths.items():
            bins[low + (length - low) // width * width] += count
        return {f"{start}-{start + width - 1}": count for start, count in sorted(bins.items())}

    def to_dict(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "bases": self.bases,
            "gc_percent": round(self.gc_percent, 3),
            "n_rate": round(self.n_rate, 6),
            "mean_quality": round(self.mean_quality, 3),
            "q30_fraction": round(self.q30_fraction, 6),
            "quality_encoding": self.encoding,
            "min_length": min(self.lengths) if self.lengths else 0,
            "max_length": max(self.lengths) if self.lengths else 0,
            "mean_length": round(self.bases / self.reads, 3) if self.reads else 0.0,
            "length_distribution": self.length_distribution(),
            "compressed_bytes": self.compressed_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
        }


def detect_encoding(low: int, high: int) -> str:
    """``"phred33"`` or ``"phred64"`` from the lowest and highest quality byte seen."""
    if low < PHRED33 or high > 126:
        raise FastqError(f"quality byte {low if low < PHRED33 else high} is outside the printable range")
    if low >= 59 and high > 74:
        return "phred64"
    return "phred33"


class _Batch:
    """Sequences and qualities of up to BATCH_READS records, with the line each record starts on."""

    def __init__(self) -> None:
        self.seqs: list[bytes] = []
        self.quals: list[bytes] = []
        self.lines: list[int] = []

    def __len__(self) -> int:
        return len(self.seqs)


def _records(lines: Iterator[bytes], name: str) -> Iterator[tuple[int, bytes, bytes]]:
    """(header line number, sequence, quality) of each record, structure checked."""
    number = 0
    for header in lines:
        number += 1
        if not header:
            # Blank lines after the last record are tolerated; a blank line between records is not.
            for extra in lines:
                number += 1
                if extra:
                    raise FastqError(
                        f"{name}: blank line {number - 1} inside the file", line=number - 1, name=name
                    )
            return
        start = number
        if header[:1] != b"@":
            raise FastqError(
                f"{name}: line {start} should start a record with '@', found {header[:20]!r}",
                line=start,
                name=name,
            )
        seq = next(lines, None)
        plus = next(lines, None)
        qual = next(lines, None)
        if seq is None or plus is None or qual is None:
            got = 1 + sum(part is not None for part in (seq, plus, qual))
            raise FastqError(
                f"{name}: the record at line {start} is cut short ({got} of 4 lines): truncated file",
                line=start + got - 1,
                name=name,
            )
        number += 3
        if plus[:1] != b"+":
            raise FastqError(
                f"{name}: line {start + 2} should be the '+' separator, found {plus[:20]!r}",
                line=start + 2,
                name=name,
            )
        if len(seq) != len(qual):
            raise FastqError(
                f"{name}: read {header[1:].split()[0].decode(errors='replace') if len(header) > 1 else '?'} "
                f"at line {start}: sequence is {len(seq)} bases but quality (line {start + 3}) is "
                f"{len(qual)} characters",
                line=start + 3,
                name=name,
            )
        yield start, seq, qual


def _account(stats: FastqStats, batch: _Batch, name: str) -> None:
    seqs, quals = b"".join(batch.seqs), b"".join(batch.quals)
    if seqs.translate(None, _BASES):
        for line, seq in zip(batch.lines, batch.seqs, strict=True):
            stray = seq.translate(None, _BASES)
            if stray:
                raise FastqError(
                    f"{name}: line {line + 1} has {stray[:1]!r}, not a nucleotide code",
                    line=line + 1,
                    name=name,
                )
    low, high = (min(quals), max(quals)) if quals else (stats.min_quality_byte, stats.max_quality_byte)
    if not stats.encoding and quals:
        stats.encoding = detect_encoding(low, high)
    offset = PHRED64 if stats.encoding == "phred64" else PHRED33
    floor = 59 if offset == PHRED64 else PHRED33  # Solexa+64 reaches Q-5 (';')
    if quals and (low < floor or high > 126):
        for line, qual in zip(batch.lines, batch.quals, strict=True):
            if qual and (min(qual) < floor or max(qual) > 126):
                bad = min(qual) if min(qual) < floor else max(qual)
                raise FastqError(
                    f"{name}: line {line + 3} has quality byte {bad} ({chr(bad)!r}), outside "
                    f"{stats.encoding} decided from the first reads",
                    line=line + 3,
                    name=name,
                )
    stats.min_quality_byte = min(stats.min_quality_byte, low)
    stats.max_quality_byte = max(stats.max_quality_byte, high)
    stats.reads += len(batch)
    stats.bases += len(seqs)
    stats.gc_bases += sum(seqs.count(base) for base in _GC)
    stats.n_bases += seqs.count(b"N") + seqs.count(b"n")
    stats.quality_sum += sum(quals) - offset * len(quals)
    stats.q30_bases += len(quals.translate(None, bytes(range(offset + 30))))
    stats.lengths.update(len(seq) for seq in batch.seqs)


def scan_fastq_lines(lines: Iterable[bytes], *, name: str = "stream") -> FastqStats:
    """QC statistics of FASTQ ``lines`` (without newlines)."""
    stats = FastqStats()
    batch = _Batch()
    for line, seq, qual in _records(iter(lines), name):
        batch.seqs.append(seq)
        batch.quals.append(qual)
        batch.lines.append(line)
        if len(batch) >= BATCH_READS:
            _account(stats, batch, name)
            batch = _Batch()
    if len(batch):
        _account(stats, batch, name)
    return stats


def scan_fastq(chunks: Iterable[bytes], *, name: str = "stream") -> FastqStats:
    """QC statistics of a FASTQ file given as byte chunks, plain or gzip/BGZF, in bounded memory."""
    stream = StreamStats()
    stats = scan_fastq_lines(iter_lines(iter_decoded(chunks, name=name, stats=stream), name=name), name=name)
    stats.compressed_bytes = stream.compressed_bytes
    stats.uncompressed_bytes = stream.uncompressed_bytes
    return stats
